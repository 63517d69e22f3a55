"""The EvalConfig, the TFMA metric objects and the Evaluators' bounded extractors (no Beam run)."""

import json

import numpy as np
import pytest

from components.example_gen.oxford import OXFORD_PETS
from core import contracts
from core.config import EvaluationConfig
from models.evaluation import eval_config, tfma_metrics
from models.evaluation import extractors as bounded_extractors
from models.evaluation import scores as seg

# isort: split
# TensorFlow after the project import, which selects Keras 2 (tf_keras) before TF loads.
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_specs, metric_types

OUT = 8  # output size of the fake labels
C = OXFORD_PETS.num_classes
NAMES = list(OXFORD_PETS.class_names)


def oxford_config(mean_iou: float, foreground_iou: float, change: float):
    thresholds = EvaluationConfig(mean_iou, foreground_iou, change)
    return eval_config.build_eval_config(thresholds, OXFORD_PETS)


IGNORE = contracts.IGNORE_LABEL


# --- config and metric objects (no Beam) ----------------------------------------------------


def test_eval_config_structure():
    config = oxford_config(0.5, 0.4, -1e-10)
    (spec,) = config.model_specs
    # The Evaluators call the in-graph `evaluate` signature: K x K counts per example, no labels.
    assert spec.signature_name == "evaluate" and spec.prediction_key == "confusion_matrix"
    assert not spec.preprocessing_function_names and not spec.label_key
    assert spec.model_type == tfma.TF_GENERIC and not spec.name and not spec.is_baseline
    (per_pixel,) = eval_config.build_eval_config(
        EvaluationConfig(), OXFORD_PETS, in_graph=False
    ).model_specs
    assert per_pixel.signature_name == "predict_examples"
    assert list(per_pixel.preprocessing_function_names) == ["transform_features"]
    assert per_pixel.label_key == "label" and per_pixel.prediction_key == "probabilities"
    overall, species, size = config.slicing_specs
    assert overall == tfma.SlicingSpec()  # the overall metrics, then the slices
    assert list(species.feature_keys) == ["species"] and list(size.feature_keys) == ["object_size"]
    thresholds = metric_specs.metric_thresholds_from_metrics_specs(config.metrics_specs, config)
    by_key = {(k.name, k.is_diff): [t for _, t in v] for k, v in thresholds.items()}
    assert set(by_key) == {("mean_iou", False), ("mean_iou", True), ("iou/pet", False),
                           ("iou/pet", True)}  # fmt: skip
    judged = [spec for v in thresholds.values() for spec, _ in v]
    assert len(judged) == 4 and all(spec == tfma.SlicingSpec() for spec in judged)  # overall only
    assert by_key[("mean_iou", False)][0].lower_bound.value == 0.5
    assert by_key[("iou/pet", False)][0].lower_bound.value == pytest.approx(0.4)
    change = by_key[("mean_iou", True)][0]
    assert change.absolute.value == -1e-10
    assert change.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    modules = {m.module for m in config.metrics_specs[0].metrics if m.module}
    assert modules == {"models.evaluation.tfma_metrics", "models.evaluation.confidence_metrics"}


def test_config_with_and_without_baseline():
    config = oxford_config(0.5, 0.4, -1e-10)
    first = tfma.utils.update_eval_config_with_defaults(
        config, has_baseline=False, rubber_stamp=True
    )
    assert len(first.model_specs) == 1
    kept = metric_specs.metric_thresholds_from_metrics_specs(first.metrics_specs, first)
    assert {k.name for k in kept} == {"mean_iou", "iou/pet"} and not any(k.is_diff for k in kept)
    second = tfma.utils.update_eval_config_with_defaults(config, has_baseline=True)
    names = {(s.name, s.is_baseline) for s in second.model_specs}
    assert names == {(tfma.CANDIDATE_KEY, False), (tfma.BASELINE_KEY, True)}
    assert all(s.signature_name == "evaluate" for s in second.model_specs)


def test_evaluator_batches_are_cut_to_the_inference_batch_size():
    import pyarrow as pa

    batch = pa.RecordBatch.from_arrays([pa.array(range(37))], ["row"])
    extracts = {tfma.ARROW_RECORD_BATCH_KEY: batch, "other": "kept"}
    pieces = list(bounded_extractors.split_record_batch(extracts, max_rows=16))
    assert [p[tfma.ARROW_RECORD_BATCH_KEY].num_rows for p in pieces] == [16, 16, 5]
    rows = [r for p in pieces for r in p[tfma.ARROW_RECORD_BATCH_KEY].column(0).to_pylist()]
    assert rows == list(range(37)) and all(p["other"] == "kept" for p in pieces)
    config = tfma.utils.update_eval_config_with_defaults(
        oxford_config(0, 0, 0), has_baseline=False, rubber_stamp=True
    )
    extractors = bounded_extractors.custom_extractors(None, config, None)
    defaults = tfma.default_extractors(eval_config=config)
    assert extractors[0].stage_name == "BoundBatchSize"
    assert [e.stage_name for e in extractors[1:]] == [e.stage_name for e in defaults]


def test_metric_configs_load_by_module_path():
    configs = tfma_metrics.metric_configs(None, C, NAMES, (0,))
    instances = [metric_specs.metric_instance(c) for c in configs]
    names = [m.name for m in instances]
    assert names == ["pixel_accuracy", "mean_iou", "iou/pet", "iou/background", "iou/border",
                     "dice/pet"]  # fmt: skip
    assert isinstance(instances[2], tfma_metrics.SegmentationIoU)
    assert json.loads(configs[4].config)["class_id"] == 2
    with pytest.raises(ValueError, match="unknown metrics"):
        tfma_metrics.metric_configs({"iou/cat": tfma.MetricThreshold()}, C, NAMES, (0,))
    with pytest.raises(ValueError, match="class_id"):
        tfma_metrics.SegmentationIoU(class_id=3, num_classes=C, class_names=NAMES)


def test_combiner_weighs_examples_and_skips_ignore():
    """The confusion-matrix combiner fed directly, with per-example weights."""
    metric = tfma_metrics.SegmentationMeanIoU(C, NAMES)
    computations = metric.computations(example_weighted=True)
    matrix, derived = computations
    rng = np.random.default_rng(1)
    combiner = matrix.combiner
    accumulator = combiner.create_accumulator()
    expected = np.zeros((C, C))
    for weight in (1.0, 3.0):
        label = rng.integers(0, C, size=(OUT, OUT))
        label[0] = IGNORE
        probabilities = rng.random((OUT, OUT, C))
        inputs = metric_types.StandardMetricInputs(
            labels=label, predictions=probabilities, example_weights=np.array([weight])
        )
        accumulator = combiner.add_input(accumulator, inputs)
        expected += seg.confusion_matrix(label, probabilities.argmax(-1), C, weights=weight)
    merged = combiner.merge_accumulators([accumulator, combiner.create_accumulator()])
    np.testing.assert_allclose(merged, expected)
    assert merged.sum() == pytest.approx(4 * (OUT - 1) * OUT)  # IGNORE row left out, weights 1 + 3
    output = derived.result(combiner.extract_output(merged))
    (key,) = output
    assert key.name == "mean_iou" and key.example_weighted
    assert output[key] == pytest.approx(
        seg.scores_from_confusion(expected, (0,), NAMES)["mean_iou"]
    )
