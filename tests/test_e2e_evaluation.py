"""The Evaluators' in-graph confusion matrices give the metrics the per-pixel way gives, on the
model and eval split of the first end-to-end run."""

from __future__ import annotations

import os

import pytest

from bench.bench_evaluator import evaluate
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
