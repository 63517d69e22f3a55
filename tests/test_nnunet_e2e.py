"""End to end on nnU-Net-layout folders (real LocalDagRunner, test preset): one grayscale channel
with background/cell/ignore, and RGB with four classes, the latter on Beam's multi-process runner
with two workers. Each run blesses and pushes; its metrics are named by the data set's classes;
the pushed model answers in the data set's label values."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from core import contracts
from pipeline import run_report
from pipeline.synthetic.cells import render_cells
from tests.e2e_runs import run_pipeline
from tests.nnunet_folders import png, render_shapes, write, write_shapes

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(name="nnunet")]


# Beam's portable multi-process mode, the Fn API execution Dataflow's Python workers use.
MULTI_PROCESS = "--direct_running_mode=multi_processing --direct_num_workers=2"


def _run(data_root: str, output_dir: str, *args: str) -> dict:
    result = run_pipeline(output_dir, "--data-root", data_root, "--train-steps", "30", *args)
    summary = run_report.summarize(os.path.join(output_dir, "metadata.sqlite"), "petunet")
    nodes = run_report.last_run(os.path.join(output_dir, "metadata.sqlite"), "petunet")
    examples = nodes["SegmentationExampleGen"].artifact("examples").uri
    with open(os.path.join(examples, "ingest_report.json")) as f:
        summary["ingest_report"] = json.load(f)
    summary["console"] = result.stdout + result.stderr
    return summary


def _predict(model_dir: str, image: np.ndarray) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    model = tf.saved_model.load(model_dir)
    # TFX's default serving_default: serialized tf.Examples in.
    assert set(model.signatures[contracts.SERVING_SIGNATURE].structured_input_signature[1]) == {
        contracts.EXAMPLES_INPUT
    }
    out = model.signatures[contracts.PREDICT_IMAGE_MASK_SIGNATURE](
        **{contracts.IMAGE_BYTES_INPUT: tf.constant([buffer.getvalue()])}
    )
    return out[contracts.MASK_OUTPUT_KEY].numpy()[0]


@pytest.fixture(scope="module")
def gray_cells(tmp_path_factory) -> tuple[str, dict]:
    from pipeline.synthetic.cells import generate_synthetic_cells

    root = generate_synthetic_cells(str(tmp_path_factory.mktemp("cells")), 20, 5, with_ignore=True)
    image, mask, _ = render_cells(5, 99, with_ignore=True)
    write(os.path.join(root, "imagesTr", "rgb_0000.png"), png(np.dstack([image] * 3)))
    write(os.path.join(root, "labelsTr", "rgb.png"), png(mask))
    write(os.path.join(root, "imagesTr", "unlabelled_0000.png"), png(image))
    path = os.path.join(root, "dataset.json")
    with open(path) as f:
        description = json.load(f)
    description["numTraining"] += 2
    with open(path, "w") as f:
        json.dump(description, f)
    return root, _run(root, str(tmp_path_factory.mktemp("cells_run")))


@pytest.fixture(scope="module")
def rgb_shapes(tmp_path_factory) -> tuple[str, dict]:
    root = write_shapes(str(tmp_path_factory.mktemp("shapes")), train=16, test=4, numTraining=17)
    # A JPEG cut off midway (named .png): skipped with its reason, and TensorFlow's libjpeg
    # warnings about it stay off the console.
    image, mask = render_shapes(99)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG")
    write(os.path.join(root, "imagesTr", "cut_0000.png"), buffer.getvalue()[:700])
    write(os.path.join(root, "labelsTr", "cut.png"), png(mask))
    output_dir = str(tmp_path_factory.mktemp("shapes_run"))
    return root, _run(root, output_dir, "--beam-args", MULTI_PROCESS)


def test_gray_cells_with_an_ignore_label_bless_push_and_answer_in_label_values(gray_cells):
    root, summary = gray_cells
    assert summary["blessed"] and summary["pushed"]
    for split in ("eval", "test"):
        metrics = summary[f"{split}_metrics"]
        assert {"iou/background", "iou/cell", "dice/cell", "mean_iou"} <= set(metrics)
        assert not any(name.endswith("/pet") or "ignore" in name for name in metrics)
    image, _, _ = render_cells(11, 3, size=(150, 190))
    mask = _predict(summary["pushed_to"], image)
    assert mask.shape == (150, 190)
    assert set(np.unique(mask)) <= {0, 1}  # never the ignore value 2


def test_the_ingest_report_counts_every_listed_case(gray_cells):
    root, summary = gray_cells
    report = summary["ingest_report"]
    train_cases = {n.rsplit("_", 1)[0] for n in os.listdir(os.path.join(root, "imagesTr"))}
    test_cases = {n.rsplit("_", 1)[0] for n in os.listdir(os.path.join(root, "imagesTs"))}
    assert report["listed"] == len(train_cases) + len(test_cases)
    assert report["listed"] == report["ingested"] + report["skipped"]
    assert report["splits"]["test"]["listed"] == len(test_cases)
    reasons = {s["name"]: s["reason"] for e in report["splits"].values() for s in e["skipped"]}
    assert reasons.keys() == {"rgb", "unlabelled"}
    assert "image has 3 channel(s)" in reasons["rgb"]
    assert "label missing: labelsTr/unlabelled.png" in reasons["unlabelled"]


def test_rgb_four_classes_on_two_worker_processes_bless_push_and_answer_in_label_values(
    rgb_shapes,
):
    _, summary = rgb_shapes  # this run's Beam work ran on two worker processes
    assert all(state == "COMPLETE" for state in summary["states"].values()), summary["states"]
    assert summary["blessed"] and summary["pushed"]
    metrics = summary["eval_metrics"]
    names = ("background", "disc", "square", "bar")
    assert {f"iou/{n}" for n in names} <= set(metrics)
    assert {f"dice/{n}" for n in names[1:]} <= set(metrics) and "dice/background" not in metrics
    report = summary["ingest_report"]
    assert (report["listed"], report["ingested"], report["skipped"]) == (21, 20, 1)
    (skipped,) = [s for split in report["splits"].values() for s in split["skipped"]]
    assert skipped["name"] == "cut" and "imagesTr/cut_0000.png" in skipped["reason"]
    for noise in ("jpeg_mem", "Premature end of JPEG", "Local rendezvous", "I0000"):
        assert noise not in summary["console"], noise
    image, _ = render_shapes(1234, size=80)
    mask = _predict(summary["pushed_to"], image[:70])
    assert mask.shape == (70, 80) and set(np.unique(mask)) <= {0, 1, 2, 3}
    with open(os.path.join(summary["pushed_to"], "assets.extra", "dataset.json")) as f:
        assert json.load(f)["labels"] == {n: v for v, n in enumerate(names)}
