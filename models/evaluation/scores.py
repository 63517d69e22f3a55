"""The segmentation scores, defined once, in NumPy: the confusion matrix and what derives from it.

Rows of the confusion matrix are the true class, columns the predicted class, counted over the
pixels whose label is a real class: IGNORE pixels (the canvas outside the image, `ignore` labels)
never count. The TFMA metrics call these functions directly and the Keras training metrics compute
the same formulas in TensorFlow, so training logs and the Evaluator agree.

Score definitions (TP/FP/FN per class c from the confusion matrix):
    pixel_accuracy = sum_c TP_c / (number of counted pixels)
    iou/<class>    = TP_c / (TP_c + FP_c + FN_c)
    mean_iou       = mean of iou/<class> over the classes present in the labels or the
                     predictions (TP_c + FP_c + FN_c > 0); an absent class is not scored as 0
                     or 1, so a batch without border pixels is not punished or rewarded for it.
    dice/<class>   = 2 TP_c / (2 TP_c + FP_c + FN_c)
Undefined values (nothing counted, or a class absent everywhere) are NaN here; the Keras metrics
report 0 instead, as tf.keras' own MeanIoU does, so that training logs stay finite.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core import contracts


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
    num_classes: int,
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
    cm: np.ndarray, dice_classes: Sequence[int], class_names: Sequence[str]
) -> dict[str, float]:
    """pixel_accuracy, mean_iou, iou/<class> for every class and dice/<class> for `dice_classes`,
    named by `class_names` (the data set's, in class-index order).

    See the module docstring for the definitions; undefined values are NaN.
    """
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {cm.shape}")
    num_classes = cm.shape[0]
    names = tuple(class_names)
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names for a {num_classes}-class confusion matrix")
    tp = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    scores = {contracts.PIXEL_ACCURACY_NAME: _ratio(tp.sum(), cm.sum())}
    ious = [_ratio(tp[c], union[c]) for c in range(num_classes)]
    present = [iou for iou, u in zip(ious, union, strict=True) if u > 0]
    scores[contracts.MEAN_IOU_NAME] = float(np.mean(present)) if present else float("nan")
    for c, iou in enumerate(ious):
        scores[contracts.iou_name(names[c])] = iou
    for c in dice_classes:
        scores[contracts.dice_name(names[c])] = _ratio(2 * tp[c], tp[c] + union[c])
    return scores
