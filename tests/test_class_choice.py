"""The evaluate signature picks each pixel's class from the logits exactly as argmax would."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.serving.arrays import first_largest


def test_first_largest_is_argmax_with_its_tie_rule():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(2, 9, 11, 3)).astype(np.float32)
    values[0, 0, 0] = [1.0, 1.0, 0.5]  # tie of the first two: argmax takes the first
    values[0, 0, 1] = [0.5, 2.0, 2.0]
    values[0, 0, 2] = [3.0, 3.0, 3.0]
    values[1, :, :, 2] = values[1, :, :, 0]  # a whole image tied between classes 0 and 2
    chosen = first_largest(tf.constant(values)).numpy()
    np.testing.assert_array_equal(chosen, np.argmax(values, axis=-1))
    assert chosen[0, 0, :3].tolist() == [0, 1, 0]
    assert chosen.dtype == np.int32


def test_first_largest_is_unchanged_by_softmax():
    logits = tf.constant(np.random.default_rng(1).normal(size=(4, 5, 5, 4)), tf.float32)
    np.testing.assert_array_equal(
        first_largest(logits).numpy(), first_largest(tf.nn.softmax(logits)).numpy()
    )
