"""Keras training metrics over IGNORE-free pixels: pixel accuracy, mean IoU, per-class IoU.

The TensorFlow twins of models/evaluation/scores.py (same formulas, one confusion matrix per
metric), so the training logs agree with the Evaluator. Static shapes only, so they compile under
XLA inside a jit-compiled train step.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras

from core import contracts


def confusion_matrix_tf(
    y_true: tf.Tensor,
    y_pred: tf.Tensor,
    num_classes: int,
    sample_weight: tf.Tensor | None = None,
) -> tf.Tensor:
    """float64 [C, C] confusion matrix of a batch, the TensorFlow twin of `confusion_matrix`.

    y_pred holds per-class scores [..., C] (logits or probabilities, any float dtype incl.
    bfloat16) or class ids of y_true's shape. Static shapes only (no boolean_mask), so it compiles
    under XLA inside a jit-compiled train step.
    """
    labels = tf.cast(y_true, tf.int64)
    y_pred = tf.convert_to_tensor(y_pred)
    if y_pred.shape.rank == labels.shape.rank + 1:
        predicted = tf.argmax(y_pred, axis=-1)
    elif (
        y_pred.shape.rank == labels.shape.rank
        and labels.shape[-1] == 1
        and y_pred.shape[-1] == num_classes
        and num_classes > 1
    ):
        labels = tf.squeeze(labels, axis=-1)  # y_true given as [..., 1]
        predicted = tf.argmax(y_pred, axis=-1)
    else:
        predicted = tf.cast(y_pred, tf.int64)
    valid = (labels >= 0) & (labels < num_classes) & (predicted >= 0) & (predicted < num_classes)
    weights = tf.cast(valid, tf.float64)
    if sample_weight is not None:
        sample_weight = tf.cast(sample_weight, tf.float64)
        while sample_weight.shape.rank < labels.shape.rank:
            sample_weight = tf.expand_dims(sample_weight, -1)
        weights *= tf.broadcast_to(sample_weight, tf.shape(labels))
    index = tf.where(valid, labels * num_classes + predicted, tf.zeros_like(labels))
    counts = tf.math.unsorted_segment_sum(
        tf.reshape(weights, [-1]), tf.reshape(index, [-1]), num_classes * num_classes
    )
    return tf.reshape(counts, [num_classes, num_classes])


def _iou_tf(cm: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-class IoU (0 where undefined) and the mask of classes present anywhere."""
    tp = tf.linalg.diag_part(cm)
    union = tf.reduce_sum(cm, axis=0) + tf.reduce_sum(cm, axis=1) - tp
    return tf.math.divide_no_nan(tp, union), union > 0


class _ConfusionMatrixMetric(tf_keras.metrics.Metric):
    """Accumulates a float64 confusion matrix over IGNORE-free pixels; subclasses read it."""

    def __init__(self, num_classes: int, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.num_classes = int(num_classes)
        self.total_cm = self.add_weight(
            name="total_confusion_matrix",
            shape=(self.num_classes, self.num_classes),
            initializer="zeros",
            dtype=tf.float64,
        )

    def update_state(
        self, y_true: tf.Tensor, y_pred: tf.Tensor, sample_weight: tf.Tensor | None = None
    ) -> tf.Operation:
        batch_cm = confusion_matrix_tf(y_true, y_pred, self.num_classes, sample_weight)
        return self.total_cm.assign_add(batch_cm)

    def reset_state(self) -> None:
        self.total_cm.assign(tf.zeros_like(self.total_cm))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
        }


@tf_keras.utils.register_keras_serializable(package="petunet")
class PixelAccuracy(_ConfusionMatrixMetric):
    """Share of counted (non-IGNORE) pixels whose argmax class equals the label."""

    def __init__(
        self,
        num_classes: int,
        name: str = contracts.PIXEL_ACCURACY_NAME,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_classes, name=name, dtype=dtype)

    def result(self) -> tf.Tensor:
        correct = tf.reduce_sum(tf.linalg.diag_part(self.total_cm))
        return tf.cast(tf.math.divide_no_nan(correct, tf.reduce_sum(self.total_cm)), self.dtype)


@tf_keras.utils.register_keras_serializable(package="petunet")
class IgnoringMeanIoU(_ConfusionMatrixMetric):
    """Mean IoU over the classes present in labels or predictions, IGNORE pixels left out.

    Unlike tf.keras.metrics.MeanIoU it takes per-class scores, not class ids, and drops the
    IGNORE canvas instead of failing on (or counting) label 255.
    """

    def __init__(
        self,
        num_classes: int,
        name: str = contracts.MEAN_IOU_NAME,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_classes, name=name, dtype=dtype)

    def result(self) -> tf.Tensor:
        iou, present = _iou_tf(self.total_cm)
        total = tf.reduce_sum(tf.where(present, iou, tf.zeros_like(iou)))
        count = tf.reduce_sum(tf.cast(present, tf.float64))
        return tf.cast(tf.math.divide_no_nan(total, count), self.dtype)


@tf_keras.utils.register_keras_serializable(package="petunet")
class ClassIoU(_ConfusionMatrixMetric):
    """IoU of one class, IGNORE pixels left out; 0 while the class is absent."""

    def __init__(
        self,
        class_id: int,
        num_classes: int,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        if not 0 <= class_id < num_classes:
            raise ValueError(f"class_id must be in [0, {num_classes}), got {class_id}")
        # "pet_iou" rather than "iou/pet": Keras prefixes names with "val_" in its logs.
        super().__init__(num_classes, name=name or f"class_{class_id}_iou", dtype=dtype)
        self.class_id = int(class_id)

    def result(self) -> tf.Tensor:
        iou, _ = _iou_tf(self.total_cm)
        return tf.cast(iou[self.class_id], self.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_id": self.class_id}
