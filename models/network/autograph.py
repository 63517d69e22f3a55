"""Keeps AutoGraph out of tf_keras's own code, as TensorFlow's later releases do.

TensorFlow 2.16's AutoGraph leaves the `keras` package alone but not `tf_keras`, the Keras 2 that
TF_USE_LEGACY_KERAS=1 loads. So every tf.function traced with AutoGraph on that calls into Keras
(Keras' own train and test functions, and the default signature that saving traces for the
Transform layer, a Keras model) converted Keras' layer `__call__` and its helpers from their
source: a bfloat16 network's export took 15 s with it and 10 s without (docs/PERFORMANCE.md).
TensorFlow's later `autograph/core/config.py` lists `DoNotConvert("tf_keras")`; this adds the same
rule.
"""

from __future__ import annotations

from tensorflow.python.autograph.core import config


def keep_autograph_out_of_tf_keras() -> None:
    """Adds TensorFlow's later rule for tf_keras, once; our own code is still converted."""
    if not any(rule.matches("tf_keras") for rule in config.CONVERSION_RULES):
        config.CONVERSION_RULES = (config.DoNotConvert("tf_keras"), *config.CONVERSION_RULES)
