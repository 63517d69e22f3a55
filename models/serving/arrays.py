"""Tensor helpers of the serving signatures: the class each pixel takes, raw features, masks
resized back to an image's size in strips, answers padded to a request's largest image."""

from __future__ import annotations

import tensorflow as tf

RESIZE_STRIP_ROWS = 256  # full-resolution rows resized at a time: bounds the float memory


def first_largest(values: tf.Tensor) -> tf.Tensor:
    """int32 index of the largest value along the last axis, the first one on ties (argmax's
    rule): a running comparison over the few classes, faster on CPU than tf.argmax reducing a
    short last axis."""
    return largest(values)[0]


def largest(values: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(first_largest's index, the largest value) along the last axis."""
    best = values[..., 0]
    index = tf.zeros(tf.shape(best), tf.int32)
    for k in range(1, values.shape[-1]):
        larger = values[..., k] > best
        index = tf.where(larger, k, index)
        best = tf.maximum(best, values[..., k])
    return index, best


def raw_feature(values: tf.Tensor, spec) -> tf.Tensor | tf.SparseTensor:
    """A [B] string batch in the shape the raw schema gave the feature (as parse_example would)."""
    if isinstance(spec, tf.io.FixedLenFeature):
        return tf.reshape(values, [-1, *spec.shape])
    return tf.sparse.from_dense(tf.reshape(values, [-1, 1]))


def resize_rows(columns: tf.Tensor, rows: tf.Tensor, height: tf.Tensor) -> tf.Tensor:
    """Bilinear resize along axis 0 of [h, W, K] to output rows `rows` of `height` (the same
    half-pixel-centre rule as tf.image.resize), for a strip of rows at a time."""
    h = tf.shape(columns)[0]
    scale = tf.cast(h, tf.float32) / tf.cast(height, tf.float32)
    source = tf.maximum((tf.cast(rows, tf.float32) + 0.5) * scale - 0.5, 0.0)
    low = tf.minimum(tf.cast(tf.floor(source), tf.int32), h - 1)
    high = tf.minimum(low + 1, h - 1)
    weight = (source - tf.cast(low, tf.float32))[:, None, None]
    return tf.gather(columns, low) * (1.0 - weight) + tf.gather(columns, high) * weight


def pad_to(values: tf.Tensor, largest: tf.Tensor) -> tf.Tensor:
    """values [h, w, ...] padded with zeros at the bottom and right to [largest h, largest w]."""
    extra = largest - tf.shape(values)[:2]
    rest = [[0, 0]] * (len(values.shape) - 2)
    return tf.pad(values, [[0, extra[0]], [0, extra[1]], *rest])


def full_size_classes(region: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """int32 [H, W]: the most probable class of canvas probabilities `region` [h, w, K] resized
    to the image's size, strip by strip (never H x W x K floats at once)."""
    height, width = size[0], size[1]
    columns = tf.image.resize(region, tf.stack([tf.shape(region)[0], width]), method="bilinear")
    starts = tf.range(0, height, RESIZE_STRIP_ROWS)

    def strip(start: tf.Tensor) -> tf.Tensor:
        rows = tf.range(start, tf.minimum(start + RESIZE_STRIP_ROWS, height))
        classes = tf.argmax(resize_rows(columns, rows, height), axis=-1, output_type=tf.int32)
        return tf.pad(classes, [[0, RESIZE_STRIP_ROWS - tf.shape(rows)[0]], [0, 0]])

    strips = tf.map_fn(strip, starts, fn_output_signature=tf.TensorSpec([None, None], tf.int32))
    return tf.reshape(strips, [-1, width])[:height]
