"""TFMA segmentation metrics and the EvalConfig, run through the TFX Evaluator's executor.

A tiny tf_keras "model" is exported as a SavedModel with the real model's evaluation signatures:
`evaluate` (raw examples -> per-example `confusion_matrix` [B, C, C], what the Evaluators call),
`transform_features` (raw examples -> `label` [B, O, O], `image_region`) and `predict_examples`
(raw examples -> `probabilities` [B, O, O, C], `classes`), the per-pixel way. Its probabilities
are the one-hot of a class map stored in each example, and its `confidence` a number stored
beside it, so the metrics have an exact NumPy reference.
"""

import math
import os

import numpy as np
import pytest
from scipy import stats

from components.example_gen.oxford import OXFORD_PETS
from core import contracts
from core.config import EvaluationConfig
from models.evaluation import eval_config
from models.evaluation import scores as seg

# isort: split
# TensorFlow after the project import, which selects Keras 2 (tf_keras) before TF loads.
import tensorflow as tf
import tensorflow_model_analysis as tfma
import tf_keras
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import artifact_utils, standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.utils import json_utils, proto_utils

OUT = 8  # output size of the fake model
TILE = 12
C = OXFORD_PETS.num_classes
IGNORE = contracts.IGNORE_LABEL
PRED_KEY = "pred"  # the fake model's stored class map
# The raw examples carry no `label`: only `transform_features` makes it, as in the pipeline.
RAW_LABEL_KEY = "label_ids"
CONFIDENCE_FEATURE = "stored_confidence"
SPLITS = {"eval": 3, "test": 2}


def _example(label: np.ndarray, pred: np.ndarray, confidence: float) -> bytes:
    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values.ravel().tolist()))

    feature = {
        RAW_LABEL_KEY: ints(label),
        PRED_KEY: ints(pred),
        CONFIDENCE_FEATURE: tf.train.Feature(float_list=tf.train.FloatList(value=[confidence])),
        contracts.NAME_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"pet"])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _make_examples(root: str) -> tuple[dict[str, list], dict[str, list], list[float]]:
    """Examples with IGNORE margins of varying width; predictions random (also where IGNORE);
    confidences random."""
    rng = np.random.default_rng(0)
    labels, preds, confidences = {}, {}, []
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
                confidences.append(float(np.float32(rng.random())))
                writer.write(_example(label, pred, confidences[-1]))
                labels[split].append(label)
                preds[split].append(pred)
    return labels, preds, confidences


def _signatures(source_key: str, to_probabilities, with_confidence: bool) -> dict:
    """The real export's evaluation signatures around `to_probabilities` (class map -> [B, O, O,
    C]); with_confidence: they answer the stored confidence too (a model from before it has
    none)."""

    def parse(examples, key):
        spec = {key: tf.io.FixedLenFeature([OUT * OUT], tf.int64)}
        return tf.reshape(tf.io.parse_example(examples, spec)[key], [-1, OUT, OUT])

    examples_spec = tf.TensorSpec([None], tf.string, name="examples")

    def probabilities_of(examples):
        class_map = parse(examples, source_key)
        class_map = tf.where(class_map == IGNORE, tf.zeros_like(class_map), class_map)
        return to_probabilities(class_map)

    def confidence(examples) -> dict:
        if not with_confidence:
            return {}
        spec = {CONFIDENCE_FEATURE: tf.io.FixedLenFeature([1], tf.float32)}
        stored = tf.io.parse_example(examples, spec)[CONFIDENCE_FEATURE][:, 0]
        return {contracts.CONFIDENCE_KEY: stored}

    @tf.function(input_signature=[examples_spec])
    def predict_examples(examples):
        probabilities = probabilities_of(examples)
        classes = tf.argmax(probabilities, axis=-1)
        return {"probabilities": probabilities, "classes": classes, **confidence(examples)}

    @tf.function(input_signature=[examples_spec])
    def evaluate(examples):
        predicted = tf.argmax(probabilities_of(examples), axis=-1)
        label = parse(examples, RAW_LABEL_KEY)
        valid = (label >= 0) & (label < C)
        cells = tf.reshape(tf.where(valid, label * C + predicted, C * C), [tf.shape(label)[0], -1])
        counts = tf.math.bincount(cells, minlength=C * C + 1, maxlength=C * C + 1, axis=-1)
        matrix = tf.reshape(counts[:, : C * C], [-1, C, C])
        return {contracts.CONFUSION_MATRIX_KEY: matrix, **confidence(examples)}

    @tf.function(input_signature=[examples_spec])
    def transform_features(examples):
        label = parse(examples, RAW_LABEL_KEY)
        tile = tf.zeros([tf.shape(label)[0], TILE, TILE, 3], tf.uint8)
        return {contracts.LABEL_KEY: label, contracts.IMAGE_REGION_KEY: tile}

    return {
        contracts.SERVING_SIGNATURE: predict_examples,
        contracts.PREDICT_EXAMPLES_SIGNATURE: predict_examples,
        contracts.EVALUATION_SIGNATURE: evaluate,
        contracts.TRANSFORM_SIGNATURE: transform_features,
    }


def _export_model(path: str, source_key: str, keras_save: bool, with_confidence: bool) -> None:
    """SavedModel whose probabilities are the one-hot of the class map under `source_key`.

    keras_save: a tf_keras `model.save` with signatures; otherwise a plain tf.Module saved with
    tf.saved_model.save. TFMA (model_type tf_generic) must read both.
    """
    ids = tf_keras.Input(shape=(OUT, OUT), dtype=tf.int64)
    scores = tf_keras.layers.Lambda(lambda x: tf.one_hot(x, C) * 5.0)(ids)
    model = tf_keras.Model(ids, tf_keras.layers.Softmax()(scores))
    if keras_save:
        signatures = _signatures(source_key, model, with_confidence)
        model.save(path, save_format="tf", signatures=signatures)
    else:
        module = tf.Module()
        module.model = model
        signatures = _signatures(source_key, model, with_confidence)
        tf.saved_model.save(module, path, signatures=signatures)


def _model_artifact(
    root: str, source_key: str, keras_save: bool, with_confidence: bool
) -> standard_artifacts.Model:
    artifact = standard_artifacts.Model()
    artifact.uri = root
    _export_model(os.path.join(root, "Format-Serving"), source_key, keras_save, with_confidence)
    return artifact


def _confidence_reference(labels: list, preds: list, confidences: list[float]) -> dict:
    """Spearman and the lowest tenth's gap, from each example's own mean IoU, in NumPy."""
    names = OXFORD_PETS.class_names
    matrices = [seg.confusion_matrix(x, y, C) for x, y in zip(labels, preds, strict=True)]
    ious = np.array([seg.scores_from_confusion(m, (), names)["mean_iou"] for m in matrices])
    order = np.argsort(confidences)
    lowest = max(1, round(len(ious) / 10))
    return {
        "confidence_spearman": stats.spearmanr(confidences, ious).statistic,
        "confidence_lowest_tenth_gap": ious[order[lowest:]].mean() - ious[order[:lowest]].mean(),
    }


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfma")
    examples = standard_artifacts.Examples()
    examples.uri = str(root / "examples")
    examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
    labels, preds, confidences = _make_examples(examples.uri)
    all_labels = np.stack(labels["eval"] + labels["test"])
    all_preds = np.stack(preds["eval"] + preds["test"])
    reference = seg.scores_from_confusion(
        seg.confusion_matrix(all_labels, all_preds, C), (0,), OXFORD_PETS.class_names
    )
    reference.update(_confidence_reference(list(all_labels), list(all_preds), confidences))
    return {
        "root": root,
        "examples": examples,
        "reference": reference,
        "pred_model": _model_artifact(
            str(root / "pred_model"), PRED_KEY, keras_save=True, with_confidence=True
        ),
        "perfect_model": _model_artifact(
            str(root / "perfect_model"), RAW_LABEL_KEY, keras_save=False, with_confidence=False
        ),
    }


def _evaluate(setup, name, model, baseline, config) -> tuple[str, str]:
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
        specs.EVAL_CONFIG_KEY: proto_utils.proto_to_json(config),
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


# --- the Evaluator end to end ---------------------------------------------------------------


@pytest.mark.parametrize("in_graph", [True, False], ids=["in_graph", "per_pixel"])
def test_first_run_reports_numpy_values_and_checks_value_thresholds(setup, in_graph):
    ref = setup["reference"]
    assert 0.2 < ref["mean_iou"] < 0.9 and 0.2 < ref["iou/pet"] < 0.9
    thresholds = EvaluationConfig(
        mean_iou_threshold=ref["mean_iou"] - 0.01,  # passes
        foreground_iou_threshold=ref["iou/pet"] + 0.01,  # fails
        change_threshold=-1e-10,  # no baseline yet: ignored
    )
    config = eval_config.build_eval_config(thresholds, OXFORD_PETS, in_graph=in_graph)
    uri, blessing = _evaluate(setup, f"first_{in_graph}", setup["pred_model"], None, config)
    values = _overall_metrics(uri)
    assert values["example_count"] == sum(SPLITS.values())  # both splits evaluated
    for name in ("pixel_accuracy", "mean_iou", "iou/pet", "iou/background", "iou/border",
                 "dice/pet", "confidence_spearman", "confidence_lowest_tenth_gap"):  # fmt: skip
        assert values[name] == pytest.approx(ref[name], abs=1e-9), name
    assert not any(name.startswith("_") for name in values)
    assert _failed_metric_names(uri) == [("iou/pet", False)]
    assert os.path.exists(os.path.join(blessing, "NOT_BLESSED"))


def test_regression_against_baseline_is_not_blessed(setup):
    ref = setup["reference"]
    config = eval_config.build_eval_config(EvaluationConfig(0.0, 0.0, -1e-10), OXFORD_PETS)
    uri, blessing = _evaluate(setup, "regress", setup["pred_model"], setup["perfect_model"], config)
    candidate = _overall_metrics(uri, tfma.CANDIDATE_KEY)
    baseline = _overall_metrics(uri, tfma.BASELINE_KEY)
    assert candidate["mean_iou"] == pytest.approx(ref["mean_iou"], abs=1e-9)
    assert baseline["mean_iou"] == 1.0 and baseline["iou/pet"] == 1.0
    # a baseline exported without a confidence reports no confidence measures
    assert contracts.CONFIDENCE_SPEARMAN_NAME in candidate, str(sorted(candidate))
    assert not any(name.startswith("confidence_") for name in baseline)
    assert _failed_metric_names(uri) == [("iou/pet", True), ("mean_iou", True)]
    assert os.path.exists(os.path.join(blessing, "NOT_BLESSED"))


def test_improvement_over_baseline_is_blessed(setup):
    config = eval_config.build_eval_config(EvaluationConfig(0.99, 0.99, -1e-10), OXFORD_PETS)
    uri, blessing = _evaluate(setup, "improve", setup["perfect_model"], setup["pred_model"], config)
    assert tfma.load_validation_result(uri).validation_ok
    assert os.path.exists(os.path.join(blessing, "BLESSED"))
    assert math.isclose(_overall_metrics(uri, tfma.CANDIDATE_KEY)["mean_iou"], 1.0)
