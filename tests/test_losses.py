"""The weight map against a SciPy reference, its border term, and the weighted loss by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from core.config import TrainingConfig
from core.contracts import IGNORE_LABEL
from models.training import loss, weight_map

# isort: split
# TensorFlow after the project import, which selects Keras 2 (tf_keras) before TF loads.
import tensorflow as tf
import tf_keras

CLASS_WEIGHTS = np.array([2.0, 0.5, 1.5], np.float32)
PET_CLASS = 0  # Oxford's class index of the pet
_PAPER = TrainingConfig()  # the paper's w0, sigma and object cap
PAPER_BORDER = dict(w0=_PAPER.border_w0, sigma=_PAPER.border_sigma_px, max_objects=8)


def paper_weight_map(label, class_weights, **overrides):
    """The weight map with the paper's settings on Oxford's three classes, pet the object."""
    settings = dict(
        border_weight=True, **PAPER_BORDER, num_classes=3, foreground_classes=(PET_CLASS,)
    )
    return weight_map.weight_map(label, class_weights, **{**settings, **overrides})


def reference_weight_map(
    label: np.ndarray, class_weights: np.ndarray, w0: float = 10.0, sigma: float = 5.0
) -> np.ndarray:
    """Eq. 2 with SciPy: components of the pet class, one exact EDT per object."""
    valid = label != IGNORE_LABEL
    weights = np.where(valid, class_weights[np.where(valid, label, 0)], 0.0)
    components, count = ndimage.label(label == PET_CLASS)
    if count >= 2:
        distances = np.stack(
            [ndimage.distance_transform_edt(components != k) for k in range(1, count + 1)], -1
        )
        distances.sort(-1)
        border = w0 * np.exp(-((distances[..., 0] + distances[..., 1]) ** 2) / (2 * sigma**2))
        weights = weights + np.where(valid, border, 0.0)
    return weights


def _boxes_label(seed: int, size: int = 24) -> np.ndarray:
    """Background with 2-3 rectangular pets, scattered border pixels and an IGNORE strip."""
    rng = np.random.default_rng(seed)
    label = np.ones((size, size), np.int64)
    boxes = 0
    while boxes < 2 + seed % 2:
        y, x = rng.integers(0, size - 4), rng.integers(2, size - 4)
        h, w = rng.integers(2, 7, 2)
        region = label[max(y - 1, 0) : y + h + 1, max(x - 1, 0) : x + w + 1]
        if np.any(region == PET_CLASS):  # keep objects separate
            continue
        label[y : y + h, x : x + w] = PET_CLASS
        boxes += 1
    label[(rng.random(label.shape) < 0.08) & (label != PET_CLASS)] = 2
    label[:, :2] = IGNORE_LABEL
    return label


def test_class_weights_are_normalised_inverse_frequencies():
    weights = weight_map.class_weights_from_counts(tf.constant([600, 300, 100], tf.int64)).numpy()
    np.testing.assert_allclose(weights, [1 / 1.8, 1 / 0.9, 1 / 0.3], rtol=1e-6)
    np.testing.assert_allclose(np.dot([0.6, 0.3, 0.1], weights), 1.0, rtol=1e-6)
    absent = weight_map.class_weights_from_counts([50.0, 0.0, 50.0]).numpy()
    np.testing.assert_allclose(absent, [1.0, 1.0, 1.0])
    assert weight_map.class_weights_from_counts([0, 0, 0]).numpy().tolist() == [1.0, 1.0, 1.0]


def test_border_cutoff_keeps_the_dropped_term_below_tolerance():
    radius = weight_map.border_cutoff(10.0, 5.0)
    assert radius == 27
    assert 10.0 * math.exp(-(radius**2) / 50.0) <= weight_map.BORDER_TOLERANCE
    assert 10.0 * math.exp(-((radius - 1) ** 2) / 50.0) > weight_map.BORDER_TOLERANCE
    assert weight_map.border_cutoff(0.0, 5.0) == 0


@pytest.mark.parametrize("seed", range(6))
def test_connected_components_match_scipy(seed):
    rng = np.random.default_rng(seed)
    mask = ndimage.binary_opening(rng.random((40, 33)) < 0.55)
    got = weight_map.connected_components(mask).numpy()
    expected, count = ndimage.label(mask)
    assert count > 3 and got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)  # same components, same numbering


def test_connected_components_of_a_spiral():
    """A long winding object needs many propagation rounds; it must still be one component."""
    mask = np.zeros((31, 31), bool)
    top, left, bottom, right = 1, 1, 29, 29
    while top <= bottom and left <= right:
        mask[top, left : right + 1] = True
        mask[top : bottom + 1, right] = True
        mask[bottom, left : right + 1] = True
        mask[top + 2 : bottom + 1, left] = True
        top, left, bottom, right = top + 2, left + 2, bottom - 2, right - 2
        if top <= bottom:
            mask[top, left - 1] = True
    got = weight_map.connected_components(mask).numpy()
    expected, count = ndimage.label(mask)
    assert count == 1
    np.testing.assert_array_equal(got, expected)
    assert weight_map.connected_components(np.zeros((5, 7), bool)).numpy().max() == 0


@pytest.mark.parametrize("seed", range(8))
def test_weight_map_matches_scipy_reference(seed):
    label = _boxes_label(seed)
    assert ndimage.label(label == PET_CLASS)[1] in (2, 3)
    got = paper_weight_map(label, CLASS_WEIGHTS).numpy()
    assert got.dtype == np.float32 and got.shape == label.shape
    np.testing.assert_allclose(got, reference_weight_map(label, CLASS_WEIGHTS), atol=1e-4)


def test_weight_map_matches_reference_on_a_larger_scene():
    """Objects at the image edges, a close pair, a far one: the distance window must not clip."""
    yy, xx = np.mgrid[:64, :96]
    label = np.ones((64, 96), np.int64)
    for cy, cx, ry, rx in ((5, 10, 9, 12), (30, 40, 10, 7), (30, 57, 8, 6), (60, 90, 6, 9)):
        label[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1] = PET_CLASS
    label[40:50, 0:20] = 2
    label[:, 93:] = IGNORE_LABEL
    assert ndimage.label(label == PET_CLASS)[1] == 4
    got = paper_weight_map(label, CLASS_WEIGHTS).numpy()
    np.testing.assert_allclose(got, reference_weight_map(label, CLASS_WEIGHTS), atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1])
def test_weight_map_matches_reference_on_noise_with_many_objects(seed):
    rng = np.random.default_rng(seed)
    label = rng.choice([0, 1, 2], size=(32, 32), p=[0.35, 0.5, 0.15]).astype(np.int64)
    label[rng.random(label.shape) < 0.05] = IGNORE_LABEL
    count = ndimage.label(label == PET_CLASS)[1]
    assert count > 20
    np.testing.assert_array_equal(
        weight_map.connected_components(label == PET_CLASS).numpy(),
        ndimage.label(label == PET_CLASS)[0],
    )
    got = paper_weight_map(label, CLASS_WEIGHTS, max_objects=count).numpy()
    np.testing.assert_allclose(got, reference_weight_map(label, CLASS_WEIGHTS), atol=1e-4)


def test_weight_map_matches_reference_with_other_w0_and_sigma():
    label = _boxes_label(3)
    got = paper_weight_map(label, CLASS_WEIGHTS, w0=4.0, sigma=3.0).numpy()
    expected = reference_weight_map(label, CLASS_WEIGHTS, w0=4.0, sigma=3.0)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_weight_map_on_objects_farther_apart_than_the_cutoff():
    label = np.ones((12, 80), np.int64)
    label[4:8, 2:6] = PET_CLASS
    label[4:8, 70:74] = PET_CLASS  # 64 px apart: the border term is ~w0 * exp(-82)
    got = paper_weight_map(label, CLASS_WEIGHTS).numpy()
    np.testing.assert_allclose(got, reference_weight_map(label, CLASS_WEIGHTS), atol=1e-4)
    np.testing.assert_array_equal(got, CLASS_WEIGHTS[label])


def test_border_term_peaks_between_close_objects():
    label = np.ones((40, 60), np.int64)
    label[10:30, 5:27] = PET_CLASS
    label[10:30, 31:53] = PET_CLASS  # a 4 px background strip at columns 27..30
    border = weight_map.border_term(label, **PAPER_BORDER, object_class=PET_CLASS).numpy()
    strip = border[15:25, 27:31]
    inside = border[15:25, 8:18]
    far = border[0:3, :]
    assert strip.min() > 3.0  # d1 + d2 <= 5 px: w0 * exp(-25 / 50) ~ 6
    assert strip.min() > 5 * inside.max()
    assert strip.min() > 100 * far.max()
    assert float(border.max()) <= 10.0


def test_fewer_than_two_objects_have_no_border_term():
    label = np.ones((30, 30), np.int64)
    np.testing.assert_array_equal(
        weight_map.border_term(label, **PAPER_BORDER, object_class=PET_CLASS).numpy(), 0.0
    )
    label[5:20, 5:20] = PET_CLASS
    label[0, :] = 2
    np.testing.assert_array_equal(
        weight_map.border_term(label, **PAPER_BORDER, object_class=PET_CLASS).numpy(), 0.0
    )
    weights = paper_weight_map(label, CLASS_WEIGHTS).numpy()
    np.testing.assert_array_equal(weights, CLASS_WEIGHTS[label])


def test_ignore_pixels_weigh_zero_and_switches_work():
    label = _boxes_label(1)
    ignored = label == IGNORE_LABEL
    full = paper_weight_map(label, CLASS_WEIGHTS).numpy()
    assert ignored.any() and np.all(full[ignored] == 0.0) and np.all(full[~ignored] > 0.0)
    no_border = paper_weight_map(label, CLASS_WEIGHTS, border_weight=False).numpy()
    np.testing.assert_array_equal(no_border[~ignored], CLASS_WEIGHTS[label[~ignored]])
    assert np.all(no_border[ignored] == 0.0)
    uniform = paper_weight_map(label, None, border_weight=False).numpy()
    np.testing.assert_array_equal(uniform, np.where(ignored, 0.0, 1.0))
    assert (full - no_border).max() > 1.0  # the border term is on


def test_object_cap_keeps_the_largest_objects():
    label = np.ones((30, 30), np.int64)
    label[2:12, 2:12] = PET_CLASS  # 100 px
    label[2:12, 16:24] = PET_CLASS  # 80 px
    label[20:22, 4:6] = PET_CLASS  # 4 px: dropped at max_objects=2
    got = paper_weight_map(label, None, max_objects=2).numpy()
    without_small = label.copy()
    without_small[20:22, 4:6] = 1
    expected = reference_weight_map(without_small, np.ones(3, np.float32))
    np.testing.assert_allclose(got, expected, atol=1e-4)
    all_three = paper_weight_map(label, None).numpy()
    np.testing.assert_allclose(
        all_three, reference_weight_map(label, np.ones(3, np.float32)), atol=1e-4
    )


def test_weight_map_runs_in_a_parallel_tf_data_map():
    labels = np.stack([_boxes_label(s) for s in range(4)])
    weights = tf.constant(CLASS_WEIGHTS)
    dataset = tf.data.Dataset.from_tensor_slices(labels).map(
        lambda lab: paper_weight_map(lab, weights), num_parallel_calls=tf.data.AUTOTUNE
    )
    assert dataset.element_spec.shape == (24, 24)
    for label, got in zip(labels, dataset.as_numpy_iterator(), strict=True):
        np.testing.assert_allclose(got, reference_weight_map(label, CLASS_WEIGHTS), atol=1e-4)


def _softmax_ce(logits: list[float], target: int) -> float:
    return -logits[target] + math.log(sum(math.exp(v) for v in logits))


def test_loss_equals_a_hand_computation():
    labels = np.array([[[0, 2], [1, IGNORE_LABEL]]], np.int64)
    logits = np.array(
        [[[[2.0, 0.0, -1.0], [0.5, 0.5, 1.0]], [[0.0, 3.0, 0.0], [9.0, -9.0, 0.0]]]], np.float32
    )
    weights = np.array([[[2.0, 1.0], [0.5, 0.0]]], np.float32)
    expected = (
        2.0 * _softmax_ce([2.0, 0.0, -1.0], 0)
        + 1.0 * _softmax_ce([0.5, 0.5, 1.0], 2)
        + 0.5 * _softmax_ce([0.0, 3.0, 0.0], 1)
    ) / 3.0  # three valid pixels
    got = loss.weighted_pixel_loss(labels, logits, weights)
    assert got.dtype == tf.float32 and got.shape == ()
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_ignore_pixels_do_not_change_the_loss():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (2, 6, 6)).astype(np.int64)
    logits = rng.normal(size=(2, 6, 6, 3)).astype(np.float32)
    weights = rng.uniform(0.5, 3.0, (2, 6, 6)).astype(np.float32)
    base = float(loss.weighted_pixel_loss(labels, logits, weights))

    # Pad with IGNORE pixels carrying arbitrary logits and (even non-zero) weights.
    pad = [(0, 0), (0, 3), (0, 3)]
    padded_labels = np.pad(labels, pad, constant_values=IGNORE_LABEL)
    padded_logits = np.pad(logits, pad + [(0, 0)], constant_values=50.0)
    padded_weights = np.pad(weights, pad, constant_values=7.0)
    padded = float(loss.weighted_pixel_loss(padded_labels, padded_logits, padded_weights))
    assert padded == pytest.approx(base, rel=1e-6)

    empty = loss.weighted_pixel_loss(np.full((1, 2, 2), IGNORE_LABEL), logits[:1, :2, :2], 1.0)
    assert float(empty) == 0.0


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_low_precision_logits_are_computed_in_float32(dtype):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, (1, 8, 8))
    logits = rng.normal(scale=4.0, size=(1, 8, 8, 3)).astype(np.float32)
    weights = np.ones((1, 8, 8), np.float32)
    low = tf.cast(logits, dtype)
    got = loss.weighted_pixel_loss(labels, low, weights)
    exact = loss.weighted_pixel_loss(labels, tf.cast(low, tf.float32), weights)
    assert got.dtype == tf.float32
    assert float(got) == pytest.approx(float(exact), rel=1e-6)


def test_the_training_model_minimises_exactly_the_weighted_loss():
    from models.training.model import WeightedSegmentationModel

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, (2, 6, 6))
    labels[:, 0] = IGNORE_LABEL
    weights = np.where(labels == IGNORE_LABEL, 0.0, rng.uniform(0.5, 2.0, (2, 6, 6)))
    targets = {"label": labels, "weights": weights.astype(np.float32)}
    images = rng.normal(size=(2, 6, 6, 1)).astype(np.float32)

    inputs = tf_keras.Input((6, 6, 1))
    model = WeightedSegmentationModel(inputs, tf_keras.layers.Conv2D(3, 1)(inputs))
    model.compile(optimizer=tf_keras.optimizers.SGD(0.1), run_eagerly=True)
    evaluated = model.evaluate(images, targets, batch_size=2, verbose=0, return_dict=True)
    direct = loss.weighted_pixel_loss(labels, model(images), weights)
    assert evaluated["loss"] == pytest.approx(float(direct), rel=1e-6)

    first = model.train_on_batch(images, targets, return_dict=True)["loss"]
    for _ in range(5):
        last = model.train_on_batch(images, targets, return_dict=True)["loss"]
    assert np.isfinite(first) and last < first
