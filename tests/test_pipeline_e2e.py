"""End to end: the real pipeline with LocalDagRunner on tiny synthetic data (test preset).

The first run (a session fixture in conftest.py, shared with tests/test_e2e_run_output.py, which
runs before this file) is read by the tests here; later runs in the same output directory check
the data gate, caching, and that a worse model is neither blessed nor pushed.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from core import contracts
from pipeline import run_report
from tests.e2e_runs import ALL_NODES, BEFORE_TRAINER, FIRST_RUN, ROOT, run_pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(name="first_run")]


def _jpeg(height: int, width: int, seed: int) -> bytes:
    from pipeline.synthetic.pets import render_pet

    image, _, _ = render_pet(seed, 0, (height, width))
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_every_component_ran_and_the_model_was_blessed_and_pushed(first_run):
    output_dir, result, summary = first_run
    assert set(summary["states"]) == ALL_NODES
    assert all(state == "COMPLETE" for state in summary["states"].values()), summary["states"]
    assert summary["blessed"] and summary["pushed"]
    version_dir = summary["pushed_to"]
    serving_root = os.path.join(output_dir, "serving_model")
    assert os.path.dirname(version_dir) == serving_root
    assert os.path.basename(version_dir).isdigit()
    assert os.path.exists(os.path.join(version_dir, "saved_model.pb"))
    for split in ("eval", "test"):
        metrics = summary[f"{split}_metrics"]
        assert 0.0 <= metrics["mean_iou"] <= 1.0 and metrics["example_count"] > 0
    assert "blessed: yes" in result.stdout and version_dir in result.stdout


def test_pushed_model_segments_a_new_image_at_its_own_size(first_run):
    _, _, summary = first_run
    model = tf.saved_model.load(summary["pushed_to"])
    jpeg = _jpeg(333, 500, seed=12345)
    out = model.signatures["predict_image"](**{contracts.IMAGE_BYTES_INPUT: tf.constant([jpeg])})
    mask = np.asarray(Image.open(io.BytesIO(out[contracts.MASK_PNG_KEY].numpy()[0])))
    assert mask.shape == (333, 500)
    assert set(np.unique(mask)) <= {1, 2, 3}

    # predict_examples (tf.Example in, canvas out) agrees with predict_image on the canvas region.
    example = tf.train.Example(
        features=tf.train.Features(
            feature={"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[jpeg]))}
        )
    )
    served = model.signatures["predict_examples"](
        examples=tf.constant([example.SerializeToString()])
    )
    probabilities = served[contracts.PROBABILITIES_KEY].numpy()[0]
    canvas = probabilities.shape[0]
    assert canvas == 52  # test preset: tile 92, depth 3
    height = round(333 * canvas / 500)
    top = (canvas - height) // 2
    region = probabilities[top : top + height]
    resized = tf.image.resize(region, (333, 500), method="bilinear").numpy()
    agreement = (resized.argmax(-1) + 1 == mask).mean()
    assert agreement > 0.99

    with pytest.raises(tf.errors.InvalidArgumentError, match="not a JPEG, PNG, GIF or BMP"):
        model.signatures["predict_image"](**{contracts.IMAGE_BYTES_INPUT: tf.constant([b"nope"])})


def test_a_failing_data_gate_stops_the_run_before_training(first_run):
    output_dir, _, first = first_run
    result = subprocess.run(
        [sys.executable, "local_runner.py", "--preset", "test", "--output-dir", output_dir,
         "--min-eval-examples", "1000"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("petunet: DataGate: data gate 'eval examples' failed"), last
    assert "--min-eval-examples" in last
    nodes = run_report.last_run(os.path.join(output_dir, "metadata.sqlite"), "petunet")
    assert nodes["DataGate"].state == "FAILED"
    assert "Transform" not in nodes and "Trainer" not in nodes  # nothing trained


def _summary(output_dir: str) -> dict:
    return run_report.summarize(os.path.join(output_dir, "metadata.sqlite"), "petunet")


def test_a_worse_model_never_replaces_the_pushed_one_and_a_rerun_pushes_nothing(first_run):
    """Four runs on one output directory: the good model (first_run), a barely trained one, one
    in between, and the first settings again (cached). Exactly one version is pushed, and every
    later evaluation compares against it."""
    output_dir, _, first = first_run
    serving_root = os.path.join(output_dir, "serving_model")
    assert os.listdir(serving_root) == [os.path.basename(first["pushed_to"])]

    # Barely trained: one step at learning rate 0 leaves the initial weights.
    run_pipeline(output_dir, *FIRST_RUN, "--train-steps", "1", "--learning-rate", "0")
    worse = _summary(output_dir)
    assert worse["states"]["Trainer"] == "COMPLETE"
    assert worse["baseline_model_id"] == first["model_id"]
    assert worse["eval_metrics"]["mean_iou"] < first["eval_metrics"]["mean_iou"]
    assert not worse["blessed"] and not worse["pushed"]

    # In between: a few steps, better than untrained, worse than the pushed model.
    run_pipeline(output_dir, *FIRST_RUN, "--train-steps", "5")
    middle = _summary(output_dir)
    assert middle["baseline_model_id"] == first["model_id"]  # not the test Evaluator's blessing
    assert middle["eval_metrics"]["mean_iou"] < first["eval_metrics"]["mean_iou"]
    assert not middle["blessed"] and not middle["pushed"]

    # The first settings again: everything up to the Trainer from the cache, the same model.
    result = run_pipeline(output_dir, *FIRST_RUN)
    again = _summary(output_dir)
    for node in BEFORE_TRAINER | {"Trainer"}:
        assert again["states"][node] == "CACHED", (node, again["states"])
    assert again["model_id"] == first["model_id"]
    assert again["baseline_model_id"] == first["model_id"]
    assert again["blessed"] and not again["pushed"]
    assert again["already_serving"] == first["pushed_to"]
    assert "already serves as" in result.stdout
    assert os.listdir(serving_root) == [os.path.basename(first["pushed_to"])]  # one version


def test_a_new_threshold_or_beam_flag_reevaluates_without_retraining(first_run):
    """Each component is keyed on what it reads: a blessing threshold reruns the Evaluator that
    reads it and the Pusher after it; Beam's flags rerun nothing that was done."""
    output_dir, _, first = first_run
    run_pipeline(output_dir, *FIRST_RUN, "--mean-iou-threshold", "0.01")
    threshold = _summary(output_dir)
    for node in BEFORE_TRAINER | {"Trainer", "test_evaluator"}:
        assert threshold["states"][node] == "CACHED", (node, threshold["states"])
    assert threshold["states"]["Evaluator"] == "COMPLETE"
    assert threshold["states"]["Pusher"] == "COMPLETE"
    assert threshold["model_id"] == first["model_id"]

    run_pipeline(
        output_dir,
        *FIRST_RUN,
        "--mean-iou-threshold",
        "0.01",
        "--beam-args",
        "--direct_num_workers=2",
    )
    beam = _summary(output_dir)
    for node in ALL_NODES - {"latest_blessed_model_resolver"}:  # a resolver always resolves
        assert beam["states"][node] == "CACHED", (node, beam["states"])


def test_bad_inputs_fail_before_any_component_runs(tmp_path):
    for args, message in (
        (["--preset", "nope"], "--preset 'nope' is unknown"),
        (["--tile-size", "570"], "Nearest valid tile sizes: 556 or 572"),
        (["--data-root", str(tmp_path / "missing")], "is not a directory"),
    ):
        result = subprocess.run(
            [sys.executable, "local_runner.py", "--output-dir", str(tmp_path / "out"), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2
        assert message in result.stderr
        assert not (tmp_path / "out" / "metadata.sqlite").exists()


def test_prediction_cli_writes_mask_and_overlay_at_the_input_size(first_run, tmp_path):
    from models.serving import predict

    _, _, summary = first_run
    paths = []
    for name, (height, width) in (("portrait", (301, 177)), ("landscape", (140, 333))):
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(_jpeg(height, width, seed=len(paths)))
        paths.append(str(path))
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    out = tmp_path / "out"
    for tiled in (False, True):
        flags = ["--tile"] if tiled else []
        code = predict.main(["--model", summary["pushed_to"], "--out", str(out), *flags, *paths])
        assert code == 0
        for path in paths:
            name = os.path.splitext(os.path.basename(path))[0]
            image = Image.open(path)
            mask = np.asarray(Image.open(out / f"{name}_mask.png"))
            overlay = Image.open(out / f"{name}_overlay.png")
            assert mask.shape == (image.height, image.width)
            assert set(np.unique(mask)) <= {1, 2, 3}
            assert overlay.size == image.size and overlay.mode == "RGB"
    # A broken file is reported and makes the exit code non-zero; the others are still written.
    assert predict.main(["--model", summary["pushed_to"], "--out", str(out), str(bad)]) == 1
