"""Segmentation metrics that ignore the canvas outside the image, for training and evaluation.

Every metric here is a function of one confusion matrix (rows: true class, columns: predicted
class) accumulated over the pixels whose label is a real class. Pixels labelled IGNORE_LABEL (the
mirror-padded canvas outside the image) never count, and neither does any other label outside
[0, num_classes). The NumPy functions `confusion_matrix` and `scores_from_confusion` are the single
definition of the scores: the TFMA metric (models/tfma_metrics.py) calls them directly and the Keras
metrics below compute the same formulas in TensorFlow, so training logs and the Evaluator agree.

Score definitions (TP/FP/FN per class c from the confusion matrix):
    pixel_accuracy = sum_c TP_c / (number of counted pixels)
    iou/<class>    = TP_c / (TP_c + FP_c + FN_c)
    mean_iou       = mean of iou/<class> over the classes present in the labels or the
                     predictions (TP_c + FP_c + FN_c > 0); an absent class is not scored as 0
                     or 1, so a batch without border pixels is not punished or rewarded for it.
    dice/pet       = 2 TP_pet / (2 TP_pet + FP_pet + FN_pet)
Undefined values (nothing counted, or a class absent everywhere) are NaN in
`scores_from_confusion`; the Keras metrics report 0 instead, as tf.keras' own MeanIoU does, so
that training logs stay finite. The two agree whenever the value is defined.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras

from models import features

PIXEL_ACCURACY_NAME = "pixel_accuracy"
MEAN_IOU_NAME = "mean_iou"


def class_name(class_id: int, num_classes: int = features.NUM_CLASSES) -> str:
    """Readable class name: the Oxford names for the 3-class problem, the index otherwise."""
    if num_classes == features.NUM_CLASSES:
        return features.CLASS_NAMES[class_id]
    return str(class_id)


def iou_name(class_id: int, num_classes: int = features.NUM_CLASSES) -> str:
    """Score name of one class's IoU, e.g. "iou/pet"."""
    return f"iou/{class_name(class_id, num_classes)}"


def dice_name(class_id: int, num_classes: int = features.NUM_CLASSES) -> str:
    """Score name of one class's Dice coefficient, e.g. "dice/pet"."""
    return f"dice/{class_name(class_id, num_classes)}"


PET_IOU_NAME = iou_name(features.PET_CLASS)
PET_DICE_NAME = dice_name(features.PET_CLASS)


# --- NumPy: the reference definition -------------------------------------------------------------


def predicted_classes(predictions: np.ndarray, label_shape: Sequence[int]) -> np.ndarray:
    """Class ids from per-pixel scores [..., C] (argmax) or from class ids of the label's shape."""
    predictions = np.asarray(predictions)
    label_shape = tuple(label_shape)
    if predictions.shape[:-1] == label_shape and predictions.ndim == len(label_shape) + 1:
        return np.argmax(predictions, axis=-1)
    if predictions.shape == label_shape:
        return predictions.astype(np.int64)
    raise ValueError(
        f"predictions of shape {predictions.shape} do not match labels of shape {label_shape}: "
        "expected per-class scores [..., C] or class ids of the label's shape"
    )


def confusion_matrix(
    labels: np.ndarray,
    predicted_classes: np.ndarray,
    num_classes: int = features.NUM_CLASSES,
    weights: np.ndarray | float | None = None,
) -> np.ndarray:
    """[num_classes, num_classes] counts, rows = true class, columns = predicted class.

    Pixels whose label is outside [0, num_classes) (IGNORE_LABEL) are left out. `weights`
    (a scalar or an array broadcastable to the labels) makes the counts weighted sums; without
    weights the matrix holds int64 pixel counts.
    """
    labels = np.asarray(labels).astype(np.int64)
    predicted = np.asarray(predicted_classes).astype(np.int64)
    if labels.shape != predicted.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predicted.shape} differ in shape")
    valid = (labels >= 0) & (labels < num_classes)
    bad = valid & ((predicted < 0) | (predicted >= num_classes))
    if bad.any():
        raise ValueError(f"predicted classes must lie in [0, {num_classes}), got {predicted[bad]}")
    index = labels[valid] * num_classes + predicted[valid]
    if weights is None:
        counts = np.bincount(index, minlength=num_classes * num_classes)
        return counts.astype(np.int64).reshape(num_classes, num_classes)
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64), labels.shape)[valid]
    counts = np.bincount(index, weights=w, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator > 0 else float("nan")


def scores_from_confusion(
    cm: np.ndarray, dice_classes: Sequence[int] = (features.PET_CLASS,)
) -> dict[str, float]:
    """pixel_accuracy, mean_iou, iou/<class> for every class and dice/<class> (default: pet).

    See the module docstring for the definitions; undefined values are NaN.
    """
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {cm.shape}")
    num_classes = cm.shape[0]
    tp = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    scores = {PIXEL_ACCURACY_NAME: _ratio(tp.sum(), cm.sum())}
    ious = [_ratio(tp[c], union[c]) for c in range(num_classes)]
    present = [iou for iou, u in zip(ious, union, strict=True) if u > 0]
    scores[MEAN_IOU_NAME] = float(np.mean(present)) if present else float("nan")
    for c, iou in enumerate(ious):
        scores[iou_name(c, num_classes)] = iou
    for c in dice_classes:
        scores[dice_name(c, num_classes)] = _ratio(2 * tp[c], tp[c] + union[c])
    return scores


# --- TensorFlow: the same formulas for Keras -----------------------------------------------------


def confusion_matrix_tf(
    y_true: tf.Tensor,
    y_pred: tf.Tensor,
    num_classes: int = features.NUM_CLASSES,
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

    def __init__(
        self,
        num_classes: int = features.NUM_CLASSES,
        from_logits: bool = True,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self.num_classes = int(num_classes)
        # argmax is the same for logits and probabilities; kept so configs read like Keras'.
        self.from_logits = bool(from_logits)
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
            "from_logits": self.from_logits,
        }


@tf_keras.utils.register_keras_serializable(package="petunet")
class PixelAccuracy(_ConfusionMatrixMetric):
    """Share of counted (non-IGNORE) pixels whose argmax class equals the label."""

    def __init__(
        self,
        num_classes: int = features.NUM_CLASSES,
        from_logits: bool = True,
        name: str = PIXEL_ACCURACY_NAME,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_classes, from_logits, name=name, dtype=dtype)

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
        num_classes: int = features.NUM_CLASSES,
        from_logits: bool = True,
        name: str = MEAN_IOU_NAME,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_classes, from_logits, name=name, dtype=dtype)

    def result(self) -> tf.Tensor:
        iou, present = _iou_tf(self.total_cm)
        total = tf.reduce_sum(tf.where(present, iou, tf.zeros_like(iou)))
        count = tf.reduce_sum(tf.cast(present, tf.float64))
        return tf.cast(tf.math.divide_no_nan(total, count), self.dtype)


@tf_keras.utils.register_keras_serializable(package="petunet")
class ClassIoU(_ConfusionMatrixMetric):
    """IoU of one class (default: the pet), IGNORE pixels left out; 0 while the class is absent."""

    def __init__(
        self,
        class_id: int = features.PET_CLASS,
        num_classes: int = features.NUM_CLASSES,
        from_logits: bool = True,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        if not 0 <= class_id < num_classes:
            raise ValueError(f"class_id must be in [0, {num_classes}), got {class_id}")
        # "pet_iou" rather than "iou/pet": Keras prefixes names with "val_" in its logs.
        default = f"{class_name(class_id, num_classes)}_iou"
        super().__init__(num_classes, from_logits, name=name or default, dtype=dtype)
        self.class_id = int(class_id)

    def result(self) -> tf.Tensor:
        iou, _ = _iou_tf(self.total_cm)
        return tf.cast(iou[self.class_id], self.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_id": self.class_id}
