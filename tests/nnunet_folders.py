"""Small nnU-Net-layout folders for tests: RGB shapes in four classes, and broken variants."""

from __future__ import annotations

import io
import json
import os

import numpy as np
from PIL import Image

SHAPE_LABELS = {"background": 0, "disc": 1, "square": 2, "bar": 3}


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def render_shapes(seed: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """An RGB image with a disc, a square and a bar in their own colours, and its 4-class mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    mask = np.zeros((size, size), np.uint8)
    cy, cx, r = rng.integers(14, size - 14, 2).tolist() + [int(rng.integers(6, 11))]
    mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 1
    y, x, s = int(rng.integers(0, size - 16)), int(rng.integers(0, size - 16)), 14
    mask[y : y + s, x : x + s] = 2
    row = int(rng.integers(4, size - 8))
    mask[row : row + 4, 4 : size - 4] = 3
    colours = np.array([[40, 60, 40], [220, 60, 60], [60, 90, 220], [230, 210, 60]], np.float32)
    image = colours[mask] + rng.normal(0, 12, (size, size, 3))
    return np.clip(image, 0, 255).astype(np.uint8), mask


def write_shapes(root: str, train: int = 24, test: int = 6, **overrides) -> str:
    """An RGB, four-class nnU-Net folder (imagesTs/labelsTs as the test split)."""
    for index in range(train + test):
        image, mask = render_shapes(index)
        images, labels = ("imagesTs", "labelsTs") if index >= train else ("imagesTr", "labelsTr")
        write(os.path.join(root, images, f"shape_{index:03d}_0000.png"), png(image))
        write(os.path.join(root, labels, f"shape_{index:03d}.png"), png(mask))
    description = {
        "channel_names": {"0": "R", "1": "G", "2": "B"},
        "labels": SHAPE_LABELS,
        "numTraining": train,
        "file_ending": ".png",
        **overrides,
    }
    with open(os.path.join(root, "dataset.json"), "w") as f:
        json.dump(description, f)
    return root
