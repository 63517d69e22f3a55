"""Keras segmentation metrics against the NumPy reference: exact counts, IGNORE never counts."""

import math

import numpy as np
import pytest

from components.example_gen.oxford import OXFORD_PETS
from core import contracts
from models.evaluation import scores as reference
from models.training import metrics as m

# isort: split
# TensorFlow after the project import, which selects Keras 2 (tf_keras) before TF loads.
import tensorflow as tf
import tf_keras

IGNORE = contracts.IGNORE_LABEL
C = OXFORD_PETS.num_classes
PET = OXFORD_PETS.class_index("pet")


def oxford_scores(cm):
    return reference.scores_from_confusion(cm, (PET,), OXFORD_PETS.class_names)


def _random_batch(seed: int, shape=(3, 8, 8), ignore_share=0.3):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, size=shape).astype(np.int64)
    labels[rng.random(shape) < ignore_share] = IGNORE
    logits = rng.normal(size=shape + (C,)).astype(np.float32)
    return labels, logits


def _brute_force_cm(labels, predicted, weights=None):
    cm = np.zeros((C, C))
    w = np.ones(labels.shape) if weights is None else np.broadcast_to(weights, labels.shape)
    for t, p, wi in zip(labels.ravel(), predicted.ravel(), w.ravel(), strict=True):
        if t != IGNORE:
            cm[t, p] += wi
    return cm


def _keras_results(labels, logits, sample_weight=None):
    out = {}
    for metric in (m.PixelAccuracy(C), m.IgnoringMeanIoU(C), m.ClassIoU(PET, C, name="pet_iou")):
        metric.update_state(tf.constant(labels), tf.constant(logits), sample_weight)
        out[metric.name] = float(metric.result())
        out["cm"] = metric.total_cm.numpy()
    return out


def test_numpy_confusion_matrix_is_exact_and_skips_ignore():
    labels, logits = _random_batch(0)
    predicted = logits.argmax(-1)
    cm = reference.confusion_matrix(labels, predicted, C)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, _brute_force_cm(labels, predicted))
    assert cm.sum() == np.count_nonzero(labels != IGNORE)


def test_keras_confusion_matrix_equals_numpy_and_accumulates():
    metric = m.IgnoringMeanIoU(C)
    expected = np.zeros((C, C))
    for seed in (1, 2):
        labels, logits = _random_batch(seed)
        metric.update_state(labels, logits)
        expected += reference.confusion_matrix(labels, logits.argmax(-1), C)
    np.testing.assert_array_equal(metric.total_cm.numpy(), expected)
    scores = oxford_scores(expected)
    assert float(metric.result()) == pytest.approx(scores[contracts.MEAN_IOU_NAME], abs=1e-6)
    metric.reset_state()
    assert metric.total_cm.numpy().sum() == 0


def test_keras_scores_equal_numpy_scores():
    labels, logits = _random_batch(3, shape=(2, 16, 16))
    keras = _keras_results(labels, logits)
    ref = oxford_scores(reference.confusion_matrix(labels, logits.argmax(-1), C))
    assert keras["pixel_accuracy"] == pytest.approx(ref[contracts.PIXEL_ACCURACY_NAME], abs=1e-6)
    assert keras["mean_iou"] == pytest.approx(ref[contracts.MEAN_IOU_NAME], abs=1e-6)
    assert keras["pet_iou"] == pytest.approx(ref[contracts.iou_name("pet")], abs=1e-6)
    assert 0.0 < ref[contracts.MEAN_IOU_NAME] < 1.0


def test_ignore_pixels_never_count():
    labels, logits = _random_batch(4)
    base = _keras_results(labels, logits)
    scrambled = logits.copy()
    ignored = labels == IGNORE
    scrambled[ignored] = -scrambled[ignored]  # a different argmax where the label is IGNORE
    changed = _keras_results(labels, scrambled)
    np.testing.assert_array_equal(base["cm"], changed["cm"])
    assert base["cm"].sum() == np.count_nonzero(~ignored)
    all_ignored = np.full_like(labels, IGNORE)
    assert _keras_results(all_ignored, logits)["cm"].sum() == 0


def test_perfect_prediction_scores_one():
    labels, _ = _random_batch(5)
    logits = np.eye(C, dtype=np.float32)[np.where(labels == IGNORE, 0, labels)] * 4.0
    keras = _keras_results(labels, logits)
    assert keras["pixel_accuracy"] == 1.0
    assert keras["mean_iou"] == 1.0
    assert keras["pet_iou"] == 1.0
    ref = oxford_scores(reference.confusion_matrix(labels, logits.argmax(-1), C))
    assert all(value == 1.0 for value in ref.values())


def test_hand_made_case():
    # Row 0 is outside the image (IGNORE) and predicted "border": it must not count.
    labels = np.array([[IGNORE, IGNORE, IGNORE, IGNORE], [0, 0, 0, 1], [1, 1, 2, 2]])
    predicted = np.array([[2, 2, 2, 2], [0, 0, 1, 1], [1, 0, 2, 1]])
    # Counted pixels: 8. pet: TP 2, FP 1 (label 1 -> 0), FN 1 (label 0 -> 1) -> IoU 2/4.
    # background: TP 2 (one in row 1, one in row 2), FP 2, FN 1 -> IoU 2/5.
    # border: TP 1, FP 0, FN 1 -> IoU 1/2.
    cm = reference.confusion_matrix(labels, predicted, C)
    np.testing.assert_array_equal(cm, [[2, 1, 0], [1, 2, 0], [0, 1, 1]])
    scores = oxford_scores(cm)
    assert scores["pixel_accuracy"] == pytest.approx(5 / 8)
    assert scores["iou/pet"] == pytest.approx(0.5)
    assert scores["iou/background"] == pytest.approx(0.4)
    assert scores["iou/border"] == pytest.approx(0.5)
    assert scores["mean_iou"] == pytest.approx((0.5 + 0.4 + 0.5) / 3)
    assert scores["dice/pet"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    logits = np.eye(C, dtype=np.float32)[predicted][None]
    keras = _keras_results(labels[None], logits)
    assert keras["mean_iou"] == pytest.approx((0.5 + 0.4 + 0.5) / 3, abs=1e-6)
    assert keras["pet_iou"] == pytest.approx(0.5)
    assert keras["pixel_accuracy"] == pytest.approx(5 / 8)


def test_absent_class_is_left_out_of_mean_iou():
    labels = np.array([[0, 0, 1, 1]])
    predicted = np.array([[0, 1, 1, 1]])  # no border anywhere
    scores = oxford_scores(reference.confusion_matrix(labels, predicted, C))
    assert math.isnan(scores["iou/border"])
    assert scores["mean_iou"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    metric = m.ClassIoU(class_id=2, num_classes=C)
    metric.update_state(labels[None], np.eye(C, dtype=np.float32)[predicted][None])
    assert float(metric.result()) == 0.0  # Keras reports 0 where NumPy says undefined
    empty = oxford_scores(np.zeros((C, C)))
    assert math.isnan(empty["pixel_accuracy"]) and math.isnan(empty["mean_iou"])
    assert float(m.IgnoringMeanIoU(C).result()) == 0.0


def test_sample_weights_weigh_examples():
    labels, logits = _random_batch(6, shape=(2, 8, 8))
    weights = np.array([2.0, 0.5])
    metric = m.PixelAccuracy(C)
    metric.update_state(labels, logits, sample_weight=weights)
    predicted = logits.argmax(-1)
    expected = reference.confusion_matrix(labels, predicted, C, weights=weights[:, None, None])
    np.testing.assert_allclose(metric.total_cm.numpy(), expected)
    np.testing.assert_allclose(expected, _brute_force_cm(labels, predicted, weights[:, None, None]))


def test_bfloat16_predictions_under_mixed_precision():
    labels, logits = _random_batch(7)
    # Separate the top score clearly so rounding to bfloat16 cannot change the argmax.
    top = logits.argmax(-1)
    logits = np.eye(C, dtype=np.float32)[top] * 8.0 + logits * 0.1
    tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        metric = m.IgnoringMeanIoU(C)
        metric.update_state(tf.constant(labels), tf.cast(logits, tf.bfloat16))
        result = metric.result()
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")
    assert result.dtype == tf.float32
    ref = oxford_scores(reference.confusion_matrix(labels, top, C))
    assert float(result) == pytest.approx(ref["mean_iou"], abs=1e-6)


def test_config_round_trip_and_keras_deserialization():
    metric = m.ClassIoU(class_id=1, num_classes=C, name="bg_iou")
    config = metric.get_config()
    assert config["class_id"] == 1 and "from_logits" not in config
    assert config["num_classes"] == C
    clone = m.ClassIoU.from_config(config)
    assert clone.name == "bg_iou" and clone.class_id == 1
    restored = tf_keras.metrics.deserialize(tf_keras.metrics.serialize(m.IgnoringMeanIoU(C)))
    assert isinstance(restored, m.IgnoringMeanIoU) and restored.name == "mean_iou"
    with pytest.raises(ValueError, match="class_id"):
        m.ClassIoU(class_id=3, num_classes=C)


def test_metrics_in_a_jit_compiled_keras_evaluate():
    labels, _ = _random_batch(8, shape=(4, 6, 6))
    perfect = np.eye(C, dtype=np.float32)[np.where(labels == IGNORE, 0, labels)]
    inputs = tf_keras.Input(shape=(6, 6, C))
    model = tf_keras.Model(inputs, tf_keras.layers.Lambda(lambda x: x * 3.0)(inputs))
    model.compile(
        loss=lambda y_true, y_pred: tf.reduce_mean(y_pred),
        metrics=[m.PixelAccuracy(C), m.IgnoringMeanIoU(C), m.ClassIoU(PET, C, name="pet_iou")],
        jit_compile=True,
    )
    results = model.evaluate(perfect, labels, batch_size=2, verbose=0, return_dict=True)
    assert results["pixel_accuracy"] == 1.0
    assert results["mean_iou"] == 1.0
    assert results["pet_iou"] == 1.0


def test_shape_mismatch_errors():
    with pytest.raises(ValueError, match="shape"):
        reference.predicted_classes(np.zeros((4, 4, 3)), (4, 5))
    with pytest.raises(ValueError, match="differ in shape"):
        reference.confusion_matrix(np.zeros((2, 2)), np.zeros((2, 3)), C)
    with pytest.raises(ValueError, match="predicted classes"):
        reference.confusion_matrix(np.zeros((1, 2)), np.array([[0, 3]]), C)
    predicted = reference.predicted_classes(np.array([[0.1, 0.7, 0.2]]), (1,))
    np.testing.assert_array_equal(predicted, [1])
