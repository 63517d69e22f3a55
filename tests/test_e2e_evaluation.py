"""The Evaluators' in-graph confusion matrices give the metrics the per-pixel way gives, on the
model and eval split of the first end-to-end run."""

from __future__ import annotations

import os

import pytest
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import artifact_utils, standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.utils import json_utils, proto_utils

from models.config import EvaluationConfig
from models.dataset import DatasetSpec
from models.evaluation import eval_config
from pipeline import node_ids, run_report

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(name="first_run")]


def _evaluate(nodes, root: str, in_graph: bool) -> dict[str, float]:
    examples = nodes[node_ids.EXAMPLE_GEN].artifact("examples")
    model = nodes[node_ids.TRAINER].artifact("model")
    with open(os.path.join(examples.uri, "dataset.json")) as f:
        dataset = DatasetSpec.from_json(f.read())
    examples_artifact = standard_artifacts.Examples()
    examples_artifact.uri = examples.uri
    examples_artifact.split_names = artifact_utils.encode_split_names(["train", "eval", "test"])
    model_artifact = standard_artifacts.Model()
    model_artifact.uri = model.uri
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = os.path.join(root, "evaluation")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = os.path.join(root, "blessing")
    os.makedirs(blessing.uri)
    config = eval_config.build_eval_config(EvaluationConfig(), dataset, in_graph=in_graph)
    evaluator_executor.Executor().Do(
        {specs.EXAMPLES_KEY: [examples_artifact], specs.MODEL_KEY: [model_artifact]},
        {specs.EVALUATION_KEY: [evaluation], specs.BLESSING_KEY: [blessing]},
        {
            specs.EVAL_CONFIG_KEY: proto_utils.proto_to_json(config),
            specs.EXAMPLE_SPLITS_KEY: json_utils.dumps(["eval"]),
            specs.MODULE_PATH_KEY: "models.evaluation.extractors",
        },
    )
    return run_report.slice_metrics(evaluation.uri, dataset=dataset)


def test_in_graph_confusion_matrices_give_identical_metrics(first_run, tmp_path):
    output_dir, _, _ = first_run
    nodes = run_report.last_run(os.path.join(output_dir, "metadata.sqlite"), "petunet", 0)
    fast = _evaluate(nodes, str(tmp_path / "in_graph"), in_graph=True)
    slow = _evaluate(nodes, str(tmp_path / "per_pixel"), in_graph=False)
    assert set(fast) == set(slow) and "" in fast  # the same slices
    for slice_name, metrics in slow.items():
        assert set(fast[slice_name]) == set(metrics), slice_name
        for name, value in metrics.items():
            assert fast[slice_name][name] == pytest.approx(value, abs=1e-12), (slice_name, name)
    assert fast[""]["example_count"] > 0 and 0 < fast[""]["mean_iou"] <= 1
