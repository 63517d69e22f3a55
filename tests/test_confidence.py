"""The answer's confidence: the expected mean IoU of the predicted mask under its probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from bench.plain_serving import expected_iou
from models.serving import confidence


def _probabilities(rng: np.random.Generator, shape: tuple[int, ...], sharpness: float):
    logits = rng.normal(0, sharpness, shape)
    exp = np.exp(logits - logits.max(-1, keepdims=True))
    return (exp / exp.sum(-1, keepdims=True)).astype(np.float32)


def test_the_canvas_confidence_counts_only_the_image_box():
    rng = np.random.default_rng(0)
    probabilities = _probabilities(rng, (2, 20, 20, 3), 2.0)
    boxes = np.array([[2, 3, 10, 15], [0, 0, 20, 20]])
    got = confidence.of_canvas(tf.constant(probabilities), tf.constant(boxes)).numpy()
    for i, (top, left, h, w) in enumerate(boxes):
        region = probabilities[i, top : top + h, left : left + w].reshape(-1, 3)
        assert got[i] == pytest.approx(expected_iou(region), abs=1e-5)


def test_a_certain_answer_is_one_and_an_unsure_one_is_low():
    certain = tf.one_hot(np.random.default_rng(1).integers(0, 3, (1, 16, 16)), 3)
    box = tf.constant([[0, 0, 16, 16]])
    assert confidence.of_canvas(certain, box).numpy()[0] == pytest.approx(1.0)
    unsure = tf.fill([1, 16, 16, 3], 1 / 3)
    assert confidence.of_canvas(unsure, box).numpy()[0] < 0.4


def test_a_class_expected_under_half_a_pixel_does_not_count():
    probabilities = np.zeros((1, 10, 10, 3), np.float32)
    probabilities[..., 0] = 0.999
    probabilities[..., 1] = 0.001 - 0.002 / 10  # class 1: 0.08 pixels expected, never predicted
    probabilities[..., 2] = 0.002 / 10
    value = confidence.of_canvas(tf.constant(probabilities), tf.constant([[0, 0, 10, 10]]))
    assert value.numpy()[0] == pytest.approx(0.999, abs=1e-4)  # class 0 alone


def test_it_estimates_the_mean_iou_of_truths_drawn_from_the_probabilities():
    """If each pixel's truth follows its probabilities, the mean IoU over many draws is close to
    the confidence: the number means what it says when the model is calibrated."""
    rng = np.random.default_rng(2)
    probabilities = _probabilities(rng, (48 * 48, 3), 2.5)
    predicted = probabilities.argmax(-1)
    cumulative = probabilities.cumsum(-1)
    draws = []
    for _ in range(100):
        truth = (rng.random((len(probabilities), 1)) > cumulative).sum(-1)
        ious = []
        for c in range(3):
            union = ((truth == c) | (predicted == c)).sum()
            if union:
                ious.append(((truth == c) & (predicted == c)).sum() / union)
        draws.append(np.mean(ious))
    grid = tf.constant(probabilities.reshape(1, 48, 48, 3))
    value = confidence.of_canvas(grid, tf.constant([[0, 0, 48, 48]])).numpy()[0]
    assert value == pytest.approx(np.mean(draws), abs=0.02)
    assert 0.3 < value < 0.95  # neither certain nor hopeless: the check can fail


def test_no_pixels_give_zero_not_nan():
    probabilities = tf.fill([1, 4, 4, 2], 0.5)
    predicted, largest = tf.zeros([1, 4, 4], tf.int32), tf.fill([1, 4, 4], 0.5)
    sums = confidence.class_sums(probabilities, predicted, largest, tf.zeros([1, 4, 4], tf.bool))
    assert confidence.expected_iou(sums).numpy().tolist() == [0.0]
