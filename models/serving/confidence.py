"""The confidence of an answer: the expected mean IoU of the predicted mask, in the graph.

Per class c, over an image's pixels, with p_c the predicted probability and [pred = c] the
predicted mask: intersection = sum p_c [pred = c], predicted = sum [pred = c], expected = sum p_c.
If the truth followed the probabilities, the class's IoU would be about
intersection / (predicted + expected - intersection); the confidence is the mean of that over the
classes the answer predicts or expects at least half a pixel of (the classes mean IoU counts),
in [0, 1]. It reads nothing but the probabilities, so it costs a few sums per pixel. Why this
estimate and how well it ranks images: docs/serving.md#confidence.
"""

from __future__ import annotations

import tensorflow as tf

from models.serving import arrays

EXPECTED_PRESENT = 0.5  # expected pixels from which an unpredicted class counts in the mean


def class_sums(
    probabilities: tf.Tensor, predicted: tf.Tensor, largest: tf.Tensor, pixels: tf.Tensor
) -> tf.Tensor:
    """float32 [B, 3, K]: per class the intersection, predicted and expected pixel counts of
    probabilities [B, H, W, K] over the pixels where `pixels` [B, H, W] is true, given each
    pixel's predicted class and its probability (`arrays.largest(probabilities)`, which a caller
    that needs the classes too computes once). The counts are segment sums keyed by image and
    class, so no one-hot mask of the canvas is built.
    """
    k = probabilities.shape[-1]
    images = tf.shape(probabilities)[0]
    keys = tf.where(pixels, predicted + k * tf.range(images)[:, None, None], k * images)
    weight = tf.cast(pixels, tf.float32)
    segments = k * images + 1  # the last one collects the pixels left out

    def per_class(values: tf.Tensor) -> tf.Tensor:
        return tf.reshape(tf.math.unsorted_segment_sum(values, keys, segments)[:-1], [-1, k])

    expected = tf.reduce_sum(probabilities * weight[..., None], axis=[1, 2])
    return tf.stack([per_class(largest), per_class(weight), expected], axis=1)


def expected_iou(sums: tf.Tensor) -> tf.Tensor:
    """float32 [...] in [0, 1] from class sums [..., 3, K] (`class_sums`); 0 for no pixels."""
    intersection, predicted, expected = tf.unstack(sums, axis=-2)
    union = predicted + expected - intersection
    counted = (predicted > 0) | (expected >= EXPECTED_PRESENT)
    iou = tf.math.divide_no_nan(intersection, union)
    total = tf.reduce_sum(tf.where(counted, iou, 0.0), axis=-1)
    classes = tf.reduce_sum(tf.cast(counted, tf.float32), axis=-1)
    return tf.clip_by_value(tf.math.divide_no_nan(total, classes), 0.0, 1.0)


def box_pixels(boxes: tf.Tensor, size: int) -> tf.Tensor:
    """bool [B, size, size]: the pixels inside each box [B, 4] (top, left, height, width)."""
    boxes = tf.cast(boxes, tf.int32)
    index = tf.range(size)[None, :]
    rows = (index >= boxes[:, 0:1]) & (index < boxes[:, 0:1] + boxes[:, 2:3])
    cols = (index >= boxes[:, 1:2]) & (index < boxes[:, 1:2] + boxes[:, 3:4])
    return rows[:, :, None] & cols[:, None, :]


def of_canvas(probabilities: tf.Tensor, boxes: tf.Tensor) -> tf.Tensor:
    """float32 [B]: the confidence of canvas probabilities [B, O, O, K] within each image's box."""
    predicted, largest = arrays.largest(probabilities)
    pixels = box_pixels(boxes, tf.shape(probabilities)[1])
    return expected_iou(class_sums(probabilities, predicted, largest, pixels))
