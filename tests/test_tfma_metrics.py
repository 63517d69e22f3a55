"""TFMA segmentation metrics and the EvalConfig, run through the TFX Evaluator's executor.

A tiny tf_keras "model" is exported as a SavedModel with the real model's signatures:
`transform_features` (raw examples -> `label` [B, O, O], `image_tile`) and `serving_default`
(raw examples -> `probabilities` [B, O, O, C], `classes`). Its probabilities are the one-hot of a
class map stored in each example, so the metrics have an exact NumPy reference.
"""

import json
import math
import os

import numpy as np
import pytest

from models import evaluation, features, tfma_metrics
from models import metrics as seg

# isort: split
# TensorFlow after the project import, which selects Keras 2 (tf_keras) before TF loads.
import tensorflow as tf
import tensorflow_model_analysis as tfma
import tf_keras
from tensorflow_model_analysis.metrics import metric_specs, metric_types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import artifact_utils, standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.utils import json_utils, proto_utils

OUT = 8  # output size of the fake model
TILE = 12
C = features.NUM_CLASSES
IGNORE = features.IGNORE_LABEL
PRED_KEY = "pred"  # the fake model's stored class map
# The raw examples carry no `label`: only `transform_features` makes it, as in the pipeline.
RAW_LABEL_KEY = "label_ids"
SPLITS = {"eval": 3, "test": 2}


def _example(label: np.ndarray, pred: np.ndarray) -> bytes:
    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values.ravel().tolist()))

    feature = {
        RAW_LABEL_KEY: ints(label),
        PRED_KEY: ints(pred),
        features.NAME_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"pet"])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _make_examples(root: str) -> tuple[dict[str, list], dict[str, list]]:
    """Examples with IGNORE margins of varying width; predictions random (also where IGNORE)."""
    rng = np.random.default_rng(0)
    labels, preds = {}, {}
    for split, count in SPLITS.items():
        labels[split], preds[split] = [], []
        os.makedirs(os.path.join(root, f"Split-{split}"))
        path = os.path.join(root, f"Split-{split}", "data_tfrecord-00000-of-00001")
        with tf.io.TFRecordWriter(path) as writer:
            for _ in range(count):
                label = rng.integers(0, C, size=(OUT, OUT))
                # Mostly right, so that the scores are far from 0 and 1; random under IGNORE.
                guess = rng.integers(0, C, size=(OUT, OUT))
                pred = np.where(rng.random((OUT, OUT)) < 0.6, label, guess)
                margin = int(rng.integers(1, 3))
                label[:margin] = IGNORE
                label[:, -margin:] = IGNORE
                writer.write(_example(label, pred))
                labels[split].append(label)
                preds[split].append(pred)
    return labels, preds


def _signatures(source_key: str, to_probabilities) -> dict:
    """The real export's two signatures around `to_probabilities` (class map -> [B, O, O, C])."""

    def parse(examples, key):
        spec = {key: tf.io.FixedLenFeature([OUT * OUT], tf.int64)}
        return tf.reshape(tf.io.parse_example(examples, spec)[key], [-1, OUT, OUT])

    examples_spec = tf.TensorSpec([None], tf.string, name="examples")

    @tf.function(input_signature=[examples_spec])
    def serving_default(examples):
        class_map = parse(examples, source_key)
        class_map = tf.where(class_map == IGNORE, tf.zeros_like(class_map), class_map)
        probabilities = to_probabilities(class_map)
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=-1)}

    @tf.function(input_signature=[examples_spec])
    def transform_features(examples):
        label = parse(examples, RAW_LABEL_KEY)
        tile = tf.zeros([tf.shape(label)[0], TILE, TILE, 3], tf.uint8)
        return {features.LABEL_KEY: label, features.TILE_KEY: tile}

    return {
        evaluation.SERVING_SIGNATURE_NAME: serving_default,
        evaluation.TRANSFORM_SIGNATURE_NAME: transform_features,
    }


def _export_model(path: str, source_key: str, keras_save: bool) -> None:
    """SavedModel whose probabilities are the one-hot of the class map under `source_key`.

    keras_save: a tf_keras `model.save` with signatures; otherwise a plain tf.Module saved with
    tf.saved_model.save. TFMA (model_type tf_generic) must read both.
    """
    ids = tf_keras.Input(shape=(OUT, OUT), dtype=tf.int64)
    scores = tf_keras.layers.Lambda(lambda x: tf.one_hot(x, C) * 5.0)(ids)
    model = tf_keras.Model(ids, tf_keras.layers.Softmax()(scores))
    if keras_save:
        model.save(path, save_format="tf", signatures=_signatures(source_key, model))
    else:
        module = tf.Module()
        module.model = model
        tf.saved_model.save(module, path, signatures=_signatures(source_key, model))


def _model_artifact(root: str, source_key: str, keras_save: bool) -> standard_artifacts.Model:
    artifact = standard_artifacts.Model()
    artifact.uri = root
    _export_model(os.path.join(root, "Format-Serving"), source_key, keras_save)
    return artifact


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfma")
    examples = standard_artifacts.Examples()
    examples.uri = str(root / "examples")
    examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
    labels, preds = _make_examples(examples.uri)
    all_labels = np.stack(labels["eval"] + labels["test"])
    all_preds = np.stack(preds["eval"] + preds["test"])
    reference = seg.scores_from_confusion(seg.confusion_matrix(all_labels, all_preds, C))
    return {
        "root": root,
        "examples": examples,
        "reference": reference,
        "pred_model": _model_artifact(str(root / "pred_model"), PRED_KEY, keras_save=True),
        "perfect_model": _model_artifact(
            str(root / "perfect_model"), RAW_LABEL_KEY, keras_save=False
        ),
    }


def _evaluate(setup, name, model, baseline, eval_config) -> tuple[str, str]:
    """Runs the TFX Evaluator executor on both splits; returns (evaluation uri, blessing uri)."""
    evaluation_out = standard_artifacts.ModelEvaluation()
    evaluation_out.uri = str(setup["root"] / name / "evaluation")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(setup["root"] / name / "blessing")
    os.makedirs(blessing.uri)
    input_dict = {specs.EXAMPLES_KEY: [setup["examples"]], specs.MODEL_KEY: [model]}
    if baseline is not None:
        input_dict[specs.BASELINE_MODEL_KEY] = [baseline]
    exec_properties = {
        specs.EVAL_CONFIG_KEY: proto_utils.proto_to_json(eval_config),
        specs.EXAMPLE_SPLITS_KEY: json_utils.dumps(list(SPLITS)),
    }
    output_dict = {specs.EVALUATION_KEY: [evaluation_out], specs.BLESSING_KEY: [blessing]}
    evaluator_executor.Executor().Do(input_dict, output_dict, exec_properties)
    return evaluation_out.uri, blessing.uri


def _overall_metrics(evaluation_uri: str, model_name: str = "") -> dict[str, float]:
    result = tfma.load_eval_result(evaluation_uri, model_name=model_name or None)
    (slice_key, by_output), *rest = result.slicing_metrics
    assert slice_key == () and not rest  # the overall slice only
    values = by_output[""][""]
    return {name: value["doubleValue"] for name, value in values.items()}


def _failed_metric_names(evaluation_uri: str) -> list[tuple[str, bool]]:
    validation = tfma.load_validation_result(evaluation_uri)
    failures = [f for s in validation.metric_validations_per_slice for f in s.failures]
    return sorted((f.metric_key.name, f.metric_key.is_diff) for f in failures)


# --- config and metric objects (no Beam) ----------------------------------------------------


def test_eval_config_structure():
    config = evaluation.build_eval_config(0.5, 0.4, -1e-10)
    (spec,) = config.model_specs
    assert spec.signature_name == "serving_default"
    assert list(spec.preprocessing_function_names) == ["transform_features"]
    assert spec.label_key == "label" and spec.prediction_key == "probabilities"
    assert spec.model_type == tfma.TF_GENERIC and not spec.name and not spec.is_baseline
    assert len(config.slicing_specs) == 1 and config.slicing_specs[0] == tfma.SlicingSpec()
    thresholds = metric_specs.metric_thresholds_from_metrics_specs(config.metrics_specs, config)
    by_key = {(k.name, k.is_diff): [t for _, t in v] for k, v in thresholds.items()}
    assert set(by_key) == {("mean_iou", False), ("mean_iou", True), ("iou/pet", False),
                           ("iou/pet", True)}  # fmt: skip
    assert by_key[("mean_iou", False)][0].lower_bound.value == 0.5
    assert by_key[("iou/pet", False)][0].lower_bound.value == pytest.approx(0.4)
    change = by_key[("mean_iou", True)][0]
    assert change.absolute.value == -1e-10
    assert change.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    modules = {m.module for m in config.metrics_specs[0].metrics if m.module}
    assert modules == {"models.tfma_metrics"}


def test_config_with_and_without_baseline():
    config = evaluation.build_eval_config(0.5, 0.4, -1e-10)
    first = tfma.utils.update_eval_config_with_defaults(
        config, has_baseline=False, rubber_stamp=True
    )
    assert len(first.model_specs) == 1
    kept = metric_specs.metric_thresholds_from_metrics_specs(first.metrics_specs, first)
    assert {k.name for k in kept} == {"mean_iou", "iou/pet"} and not any(k.is_diff for k in kept)
    second = tfma.utils.update_eval_config_with_defaults(config, has_baseline=True)
    names = {(s.name, s.is_baseline) for s in second.model_specs}
    assert names == {(tfma.CANDIDATE_KEY, False), (tfma.BASELINE_KEY, True)}
    assert all(s.preprocessing_function_names == ["transform_features"] for s in second.model_specs)


def test_evaluator_batches_are_cut_to_the_inference_batch_size():
    import pyarrow as pa

    batch = pa.RecordBatch.from_arrays([pa.array(range(37))], ["row"])
    extracts = {tfma.ARROW_RECORD_BATCH_KEY: batch, "other": "kept"}
    pieces = list(evaluation.split_record_batch(extracts, max_rows=16))
    assert [p[tfma.ARROW_RECORD_BATCH_KEY].num_rows for p in pieces] == [16, 16, 5]
    rows = [r for p in pieces for r in p[tfma.ARROW_RECORD_BATCH_KEY].column(0).to_pylist()]
    assert rows == list(range(37)) and all(p["other"] == "kept" for p in pieces)
    config = tfma.utils.update_eval_config_with_defaults(
        evaluation.build_eval_config(0, 0, 0), has_baseline=False, rubber_stamp=True
    )
    extractors = evaluation.custom_extractors(None, config, None)
    defaults = tfma.default_extractors(eval_config=config)
    assert extractors[0].stage_name == "BoundBatchSize"
    assert [e.stage_name for e in extractors[1:]] == [e.stage_name for e in defaults]


def test_metric_configs_load_by_module_path():
    configs = tfma_metrics.metric_configs()
    instances = [metric_specs.metric_instance(c) for c in configs]
    names = [m.name for m in instances]
    assert names == ["pixel_accuracy", "mean_iou", "iou/pet", "iou/background", "iou/border",
                     "dice/pet"]  # fmt: skip
    assert isinstance(instances[2], tfma_metrics.SegmentationIoU)
    assert json.loads(configs[4].config)["class_id"] == 2
    with pytest.raises(ValueError, match="unknown metrics"):
        tfma_metrics.metric_configs({"iou/cat": tfma.MetricThreshold()})
    with pytest.raises(ValueError, match="class_id"):
        tfma_metrics.SegmentationIoU(class_id=3)


def test_combiner_weighs_examples_and_skips_ignore():
    """The confusion-matrix combiner fed directly, with per-example weights."""
    metric = tfma_metrics.SegmentationMeanIoU()
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
    assert output[key] == pytest.approx(seg.scores_from_confusion(expected)["mean_iou"])


# --- the Evaluator end to end ---------------------------------------------------------------


def test_first_run_reports_numpy_values_and_checks_value_thresholds(setup):
    ref = setup["reference"]
    assert 0.2 < ref["mean_iou"] < 0.9 and 0.2 < ref["iou/pet"] < 0.9
    config = evaluation.build_eval_config(
        mean_iou_threshold=ref["mean_iou"] - 0.01,  # passes
        pet_iou_threshold=ref["iou/pet"] + 0.01,  # fails
        change_threshold=-1e-10,  # no baseline yet: ignored
    )
    uri, blessing = _evaluate(setup, "first", setup["pred_model"], None, config)
    values = _overall_metrics(uri)
    assert values["example_count"] == sum(SPLITS.values())  # both splits evaluated
    for name in ("pixel_accuracy", "mean_iou", "iou/pet", "iou/background", "iou/border",
                 "dice/pet"):  # fmt: skip
        assert values[name] == pytest.approx(ref[name], abs=1e-9), name
    assert not any(name.startswith("_") for name in values)
    assert _failed_metric_names(uri) == [("iou/pet", False)]
    assert os.path.exists(os.path.join(blessing, "NOT_BLESSED"))


def test_regression_against_baseline_is_not_blessed(setup):
    ref = setup["reference"]
    config = evaluation.build_eval_config(0.0, 0.0, change_threshold=-1e-10)
    uri, blessing = _evaluate(setup, "regress", setup["pred_model"], setup["perfect_model"], config)
    candidate = _overall_metrics(uri, tfma.CANDIDATE_KEY)
    baseline = _overall_metrics(uri, tfma.BASELINE_KEY)
    assert candidate["mean_iou"] == pytest.approx(ref["mean_iou"], abs=1e-9)
    assert baseline["mean_iou"] == 1.0 and baseline["iou/pet"] == 1.0
    assert _failed_metric_names(uri) == [("iou/pet", True), ("mean_iou", True)]
    assert os.path.exists(os.path.join(blessing, "NOT_BLESSED"))


def test_improvement_over_baseline_is_blessed(setup):
    config = evaluation.build_eval_config(0.99, 0.99, change_threshold=-1e-10)
    uri, blessing = _evaluate(setup, "improve", setup["perfect_model"], setup["pred_model"], config)
    assert tfma.load_validation_result(uri).validation_ok
    assert os.path.exists(os.path.join(blessing, "BLESSED"))
    assert math.isclose(_overall_metrics(uri, tfma.CANDIDATE_KEY)["mean_iou"], 1.0)
