"""Serving "the plain way", as the article's reader would write it: the network's `predict` on
batches, with the resizing, mirroring and stitching done in NumPy and Pillow around it.

The serving benchmark times the SavedModel's signatures against this on the same weights, and the
tests use `tiled_probabilities` and `expected_iou` as independent references for the in-graph
overlap-tile and confidence.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

Predict = Callable[[np.ndarray], np.ndarray]  # uint8 tiles [n, T, T, C] -> [n, O, O, K]


def tiled_classes(predict: Predict, image: np.ndarray, tile: int, output: int, batch: int = 4):
    """int [H, W] classes by overlap-tile: mirror-pad, cut, predict in batches, stitch."""
    return tiled_probabilities(predict, image, tile, output, batch).argmax(-1)


def tiled_probabilities(
    predict: Predict, image: np.ndarray, tile: int, output: int, batch: int = 4
) -> np.ndarray:
    """float [H, W, K] probabilities by overlap-tile: mirror-pad, cut, predict, stitch."""
    height, width = image.shape[:2]
    rows, cols = -(-height // output), -(-width // output)
    margin = (tile - output) // 2
    padding = [
        (margin, rows * output - height + margin),
        (margin, cols * output - width + margin),
        (0, 0),
    ]
    extended = np.pad(image, padding, mode="reflect")
    tiles = np.stack(
        [
            extended[r * output : r * output + tile, c * output : c * output + tile]
            for r in range(rows)
            for c in range(cols)
        ]
    )
    probabilities = np.concatenate(
        [predict(tiles[i : i + batch]) for i in range(0, len(tiles), batch)]
    )
    k = probabilities.shape[-1]
    grid = probabilities.reshape(rows, cols, output, output, k).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * output, cols * output, k)[:height, :width]


def resized_classes(predict: Predict, image: np.ndarray, tile: int, output: int) -> np.ndarray:
    """int [H, W] classes of one image fitted onto the canvas (aspect kept), mirror-padded."""
    height, width = image.shape[:2]
    scale = min(output / height, output / width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    squeeze = image.shape[-1] == 1
    pil = Image.fromarray(image[..., 0] if squeeze else image)
    resized = np.asarray(pil.resize((new_w, new_h), Image.BILINEAR))
    resized = resized[..., None] if squeeze else resized
    top, left = (output - new_h) // 2, (output - new_w) // 2
    margin = (tile - output) // 2
    padding = [
        (top + margin, output - new_h - top + margin),
        (left + margin, output - new_w - left + margin),
        (0, 0),
    ]
    canvas = np.pad(resized, padding, mode="reflect")
    probabilities = predict(canvas[None])[0][top : top + new_h, left : left + new_w]
    channels = [
        np.asarray(Image.fromarray(probabilities[..., k]).resize((width, height), Image.BILINEAR))
        for k in range(probabilities.shape[-1])
    ]
    return np.stack(channels, -1).argmax(-1)


def expected_iou(probabilities: np.ndarray, present: float = 0.5) -> float:
    """The confidence of an answer from its probabilities [..., K], pixel by pixel: the mean over
    the classes predicted or expected on at least `present` pixels of the class's expected IoU,
    sum p_c [pred = c] / (sum [pred = c] + sum p_c - sum p_c [pred = c])."""
    flat = probabilities.reshape(-1, probabilities.shape[-1]).astype(np.float64)
    predicted = flat.argmax(-1)
    ious = []
    for c in range(flat.shape[-1]):
        hard, soft = predicted == c, flat[:, c]
        intersection = soft[hard].sum()
        if hard.any() or soft.sum() >= present:
            ious.append(intersection / (hard.sum() + soft.sum() - intersection))
    return float(np.mean(ious)) if ious else 0.0
