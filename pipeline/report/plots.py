"""The report's charts (matplotlib, drawn off-screen) as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: draw into memory

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def training_curves(rows: list[dict[str, str]], steps_per_epoch: int) -> bytes:
    """Loss and IoU per step (one point per validation round), training and validation."""
    steps = [(int(r["epoch"]) + 1) * steps_per_epoch for r in rows]
    figure, (loss_axis, iou_axis) = plt.subplots(1, 2, figsize=(10, 3.4))
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if rows and key in rows[0]:
            loss_axis.plot(steps, [float(r[key]) for r in rows], style, marker="o", label=key)
    iou_keys = [k for k in (rows[0] if rows else {}) if k.endswith("iou")]
    for key in sorted(iou_keys):
        style = "--" if key.startswith("val_") else "-"
        iou_axis.plot(steps, [float(r[key]) for r in rows], style, marker=".", label=key)
    loss_axis.set(title="loss", xlabel="step")
    iou_axis.set(title="IoU", xlabel="step", ylim=(0, 1))
    for axis in (loss_axis, iou_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    return _png(figure)


def class_balance(names: list[str], counts: list[float]) -> bytes:
    """The share of the training pixels per class."""
    total = max(sum(counts), 1.0)
    figure, axis = plt.subplots(figsize=(5, 2.6))
    axis.barh(names, [100 * c / total for c in counts], color="#4a7fb5")
    axis.set(xlabel="% of labelled training pixels")
    axis.invert_yaxis()
    return _png(figure)


def confusion_matrix(names: list[str], matrix: np.ndarray) -> bytes:
    """Rows: true class, columns: predicted class, shares of each true class's pixels."""
    rows = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(1.2 * len(names) + 2, 1.1 * len(names) + 1))
    axis.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    axis.set(xticks=range(len(names)), yticks=range(len(names)), xlabel="predicted", ylabel="true")
    axis.set_xticklabels(names, rotation=30, ha="right")
    axis.set_yticklabels(names)
    for i in range(len(names)):
        for j in range(len(names)):
            colour = "white" if rows[i, j] > 0.5 else "black"
            axis.text(j, i, f"{rows[i, j]:.2f}", ha="center", va="center", color=colour)
    return _png(figure)


def confidence_scatter(confidences: list[float], ious: list[float]) -> bytes:
    """Each example's confidence against its own mean IoU, with the diagonal a calibrated
    confidence would follow."""
    figure, axis = plt.subplots(figsize=(4.2, 3.6))
    axis.plot([0, 1], [0, 1], color="#999999", linewidth=1, linestyle="--")
    axis.scatter(confidences, ious, s=10, alpha=0.6, color="#4a7fb5")
    low = min([*confidences, *ious, 0.5])
    axis.set(xlabel="confidence", ylabel="mean IoU (against the truth)", xlim=(low - 0.02, 1.0),
             ylim=(low - 0.02, 1.0))  # fmt: skip
    axis.grid(alpha=0.3)
    return _png(figure)
