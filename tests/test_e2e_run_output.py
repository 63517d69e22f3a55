"""What the user sees of the first end-to-end run (shared with tests/test_pipeline_e2e.py): a quiet
console with component times and training progress, TensorBoard panels and per-class curves,
evaluation slices, and a report that a browser shows whole."""

from __future__ import annotations

import glob
import io
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pipeline import run_report
from tests.browser import chromium
from tests.e2e_runs import ALL_NODES

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(name="first_run")]

NOISE = (
    "cuDNN", "cuFFT", "cuBLAS", "TensorRT", "cuda drivers", "ArtifactQuery.property_predicate",
    "payload_format", "non-supported Python version", "AutoGraph", "is deprecated", "I0000",
    "python-snappy", "absl::InitializeLog", "Local rendezvous", "is slow compared to the batch",
)  # fmt: skip
DOCS_SCREENSHOT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "report.png"
)


def test_the_console_is_quiet_and_says_what_happens(first_run):
    _, result, _ = first_run
    console = result.stdout + result.stderr
    for noise in NOISE:
        assert noise not in console, noise
    for node in ALL_NODES:
        finished = re.findall(rf"^\S+ {re.escape(node)} finished in \d+\.\d s$", console, re.M)
        assert len(finished) == 1, (node, finished)
    assert re.search(
        r"petunet: training about 150 steps at \d+ ms/step measured here fit --train-minutes 30 "
        r"\(at most --train-steps 150\)",
        console,
    )
    progress = re.findall(r"petunet: training step \d+/150 \(\d+%\), [\d.]+ images/s", console)
    assert len(progress) >= 3
    assert re.search(
        r"petunet: exported the SavedModel in \d+ s \(float32 network [\d.]+ s, Transform layer",
        console,
    )
    # the confidence measures on a line of their own, not among the scores
    confidence = r"^    confidence: Spearman -?[\d.]+ with each image's mean IoU"
    assert re.search(confidence, console, re.M)
    assert not re.search(r"split: .*confidence_", console)
    warnings = re.findall(r"^\S+ (.*)$", console, re.M)
    assert len(warnings) == len(set(warnings))  # no line repeated


def _events(directory: str) -> list:
    events = []
    for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
        events += list(tf.compat.v1.train.summary_iterator(path))
    return events


def test_tensorboard_holds_the_eval_panel_and_per_class_iou(first_run):
    output_dir, _, _ = first_run
    nodes = run_report.last_run(os.path.join(output_dir, "metadata.sqlite"), "petunet", 0)
    validation = os.path.join(nodes["Trainer"].artifact("model_run").uri, "validation")
    values = [v for e in _events(validation) for v in e.summary.value]
    tags = {v.tag for v in values}
    assert {"epoch_pet_iou", "epoch_background_iou", "epoch_border_iou"} <= tags
    panels = [v for v in values if v.tag == "eval_panel"]
    assert len(panels) == 3  # one per validation round (150 steps, 50 per epoch)
    width, height, *encoded = tf.make_ndarray(panels[-1].tensor)
    image = np.asarray(Image.open(io.BytesIO(encoded[0])))
    assert image.shape == (52, 4 * 52, 3) and (int(width), int(height)) == (4 * 52, 52)


def test_the_run_summary_holds_slices_by_species_and_object_size(first_run):
    _, _, summary = first_run
    for split in ("eval", "test"):
        slices = summary[f"{split}_slices"]
        species = {name for name in slices if name.startswith("species: ")}
        assert species <= {"species: cat", "species: dog"} and species
        assert any(name.startswith("object_size: ") for name in slices)
        for values in slices.values():
            assert 0.0 <= values["mean_iou"] <= 1.0 and values["example_count"] >= 1


def test_the_report_opens_whole_in_a_browser(first_run):
    output_dir, result, summary = first_run
    path = os.path.join(output_dir, "report.html")
    assert f"report: {path}" in result.stdout
    browser = chromium()
    try:
        browser.get("file://" + path)
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        widths = browser.execute_script(
            "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)"
        )
        assert len(widths) >= 5 and all(w > 0 for w in widths), widths
        shown = browser.find_element("id", "eval-mean-iou").text
        assert shown == f"{summary['eval_metrics']['mean_iou']:.3f}"
        table = browser.find_element("id", "metrics-eval").text
        assert f"{summary['eval_metrics']['mean_iou']:.3f}" in table
        best = browser.find_elements("css selector", "#best figure")
        worst = browser.find_elements("css selector", "#worst figure")
        assert best and worst
        spearman = browser.find_element("id", "confidence-spearman").text
        assert spearman == f"{summary['eval_metrics']['confidence_spearman']:.2f}"
        captions = browser.find_elements("css selector", "#least-confident figcaption")
        shown = [float(re.search(r"confidence (\S+),", c.text).group(1)) for c in captions]
        assert shown and shown == sorted(shown)
        height = browser.execute_script("return document.body.scrollHeight")
        browser.set_window_size(1280, min(height, 6000))
        screenshot = np.asarray(Image.open(io.BytesIO(browser.get_screenshot_as_png())))
    finally:
        browser.quit()
    assert screenshot.std() > 20  # not blank
    if os.environ.get("PETUNET_UPDATE_DOCS"):
        Image.fromarray(screenshot).save(DOCS_SCREENSHOT)
