"""The paper's loss: pixel-wise softmax cross-entropy weighted by the weight map (Eq. 1-2).

IGNORE pixels (weight 0) neither add loss nor dilute it: the weighted sum is divided by the number
of valid pixels in the batch.
"""

from __future__ import annotations

import tensorflow as tf


def _pixel_terms(
    labels: tf.Tensor, logits: tf.Tensor, weights: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """w(x) * CE(x) and the valid-pixel indicator, both float32 [..., O, O]."""
    logits = tf.cast(logits, tf.float32)
    labels = tf.convert_to_tensor(labels)
    num_classes = tf.shape(logits)[-1]
    valid = (labels >= 0) & (tf.cast(labels, tf.int32) < num_classes)
    safe = tf.where(valid, tf.cast(labels, tf.int32), 0)
    # log-sum-exp minus the true class's logit: the value and gradient of
    # sparse_softmax_cross_entropy_with_logits, about twice as fast on CPU for a few classes.
    picked = tf.reduce_sum(tf.one_hot(safe, num_classes, dtype=tf.float32) * logits, axis=-1)
    pixel = tf.reduce_logsumexp(logits, axis=-1) - picked
    weighted = tf.where(valid, tf.cast(weights, tf.float32) * pixel, 0.0)
    return weighted, tf.cast(valid, tf.float32)


def weighted_pixel_sums(
    labels: tf.Tensor, logits: tf.Tensor, weights: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """(sum of w(x) * CE(x), number of valid pixels) of a batch: the loss's numerator and
    denominator, so that replicas can divide by the count of the whole (global) batch."""
    weighted, valid = _pixel_terms(labels, logits, weights)
    return tf.reduce_sum(weighted), tf.reduce_sum(valid)


def weighted_pixel_loss(labels: tf.Tensor, logits: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Weighted pixel-wise softmax cross-entropy, a scalar.

    labels [..., O, O] int, logits [..., O, O, C] (any float dtype, computed in float32),
    weights [..., O, O]. The sum of w(x) * CE(x) over the valid (non-IGNORE) pixels is divided by
    the number of valid pixels in the whole batch, so IGNORE pixels neither add loss nor dilute
    it; a batch without valid pixels gives 0.
    """
    total, count = weighted_pixel_sums(labels, logits, weights)
    return tf.math.divide_no_nan(total, count)
