"""How classes look: one colour per class index, shared by overlays, TensorBoard panels and the
run report, so a class has the same colour everywhere."""

from __future__ import annotations

import numpy as np

# Colours of class indices 1, 2, ... in turn (index 0 as well when it is not background).
PALETTE = np.array(
    [
        (255, 64, 64), (255, 220, 0), (64, 160, 255), (64, 220, 120), (200, 90, 255),
        (255, 140, 30), (0, 220, 220), (255, 100, 200), (150, 110, 60), (160, 160, 160),
    ],
    dtype=np.uint8,
)  # fmt: skip
BACKGROUND_RGB = (30, 30, 30)
IGNORE_RGB = (128, 128, 128)


def class_colours(num_classes: int, background_class: int) -> np.ndarray:
    """uint8 [num_classes, 3]: the background dark, every other class its palette colour."""
    colours = np.zeros((num_classes, 3), np.uint8)
    others = [c for c in range(num_classes) if c != background_class]
    for i, c in enumerate(others):
        colours[c] = PALETTE[i % len(PALETTE)]
    colours[background_class] = BACKGROUND_RGB
    return colours


def colour_labels(labels: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Class indices [..., H, W] -> RGB [..., H, W, 3]; anything else (IGNORE) grey."""
    labels = np.asarray(labels)
    valid = (labels >= 0) & (labels < len(colours))
    rgb = colours[np.where(valid, labels, 0)]
    rgb[~valid] = IGNORE_RGB
    return rgb
