"""On the model and eval split of the first end-to-end run: the Evaluators' in-graph confusion
matrices give the metrics the per-pixel way gives, and the confidence measures are the served
model's own."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from bench.bench_evaluator import evaluate
from core import contracts
from models.evaluation import confidence_metrics, scores
from pipeline import run_report

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(name="first_run")]


def test_in_graph_confusion_matrices_give_identical_metrics(first_run, tmp_path):
    output_dir, _, _ = first_run
    nodes = run_report.last_run(os.path.join(output_dir, "metadata.sqlite"), "petunet", 0)
    fast = evaluate(nodes, str(tmp_path / "in_graph"), ["eval"], in_graph=True)
    slow = evaluate(nodes, str(tmp_path / "per_pixel"), ["eval"], in_graph=False)
    assert set(fast) == set(slow) and "" in fast  # the same slices
    for slice_name, metrics in slow.items():
        assert set(fast[slice_name]) == set(metrics), slice_name
        for name, value in metrics.items():
            assert fast[slice_name][name] == pytest.approx(value, abs=1e-12), (slice_name, name)
    assert fast[""]["example_count"] > 0 and 0 < fast[""]["mean_iou"] <= 1


def _answers(model_dir: str, examples_uri: str, splits: list[str]) -> tuple[list, list]:
    """(confidence, the example's own mean IoU) per example of `splits`, from the served model."""
    model = tf.saved_model.load(model_dir)
    confidences, ious = [], []
    for split in splits:
        files = tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*"))
        for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(8):
            out = model.signatures[contracts.EVALUATION_SIGNATURE](examples=batch)
            confidences += out[contracts.CONFIDENCE_KEY].numpy().tolist()
            for matrix in out[contracts.CONFUSION_MATRIX_KEY].numpy():
                names = [str(c) for c in range(len(matrix))]
                ious.append(scores.scores_from_confusion(matrix, (), names)["mean_iou"])
    return confidences, ious


def test_the_confidence_ranks_the_tiny_models_answers(first_run):
    """The Evaluator reports the confidence measures of the served model's own answers on the
    eval split; over all the run's examples the tiny model's confidence ranks them by mean IoU."""
    output_dir, _, summary = first_run
    nodes = run_report.last_run(os.path.join(output_dir, "metadata.sqlite"), "petunet", 0)
    examples = nodes["SegmentationExampleGen"].artifact("examples").uri
    confidences, ious = _answers(summary["pushed_to"], examples, ["eval"])
    assert all(0.0 <= c <= 1.0 for c in confidences)
    expected = confidence_metrics.ranking(np.array(confidences), np.array(ious))
    reported = summary["eval_metrics"]
    for name in (contracts.CONFIDENCE_SPEARMAN_NAME, contracts.CONFIDENCE_GAP_NAME):
        assert reported[name] == pytest.approx(expected[name], abs=1e-6), name
    confidences, ious = _answers(summary["pushed_to"], examples, ["train", "eval", "test"])
    measured = confidence_metrics.ranking(np.array(confidences), np.array(ious))
    assert len(confidences) == 40
    assert measured[contracts.CONFIDENCE_SPEARMAN_NAME] >= 0.3
    assert measured[contracts.CONFIDENCE_GAP_NAME] >= 0.0
