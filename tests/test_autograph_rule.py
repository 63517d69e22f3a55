"""AutoGraph leaves tf_keras's own code alone (TensorFlow's later rule, a patch of
startup/patches.py applied by startup.start) and still converts ours: Python control flow on
tensors keeps working in our tf.functions."""

from __future__ import annotations

import tensorflow as tf
import tf_keras
from tensorflow.python.autograph.core import config
from tensorflow.python.autograph.impl import conversion

from startup import patches


def test_tf_keras_code_is_not_converted():
    assert conversion.is_allowlisted(tf_keras.layers.Layer.__call__)
    assert conversion.is_allowlisted(tf_keras.Model.fit)


def test_the_rule_is_added_once():
    patches.AUTOGRAPH_TF_KERAS.apply()
    patches.AUTOGRAPH_TF_KERAS.apply()
    assert sum(rule.matches("tf_keras") for rule in config.CONVERSION_RULES) == 1


def _clip_negative(x):
    if tf.reduce_sum(x) < 0:  # a Python `if` on a tensor: only AutoGraph makes it a tf.cond
        return tf.zeros_like(x)
    return x


def test_our_code_is_still_converted():
    assert not conversion.is_allowlisted(_clip_negative)
    clipped = tf.function(_clip_negative)
    assert clipped(tf.constant([-2.0, 1.0])).numpy().tolist() == [0.0, 0.0]
    assert clipped(tf.constant([2.0, 1.0])).numpy().tolist() == [2.0, 1.0]
