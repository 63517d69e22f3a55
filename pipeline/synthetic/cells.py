"""Seeded synthetic touching cells in nnU-Net's layout: the case the paper's weight map is for.

    dataset.json                  {"channel_names": {"0": "EM"}, "labels": {"background": 0,
                                  "cell": 1[, "ignore": 2]}, "file_ending": ".png", ...}
    imagesTr/cells_0001_0000.png  8-bit grayscale, cells bright on a dark textured background
    labelsTr/cells_0001.png       0 background, 1 cell (2 ignore: an unannotated strip)
    imagesTs/, labelsTs/          the test cases

Cells are packed so that many touch; as in the paper's EM data (Fig. 3), touching cells are
separated in the labels by a 1-2 px background gap that the image shows only faintly, so a model
separates them only when the loss weighs those few pixels (Eq. 2). Case i depends only on
(seed, i).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence

import numpy as np

from pipeline.synthetic import drawing

MARKER_FILE = "synthetic_cells.json"
GENERATOR_VERSION = 1
TEST_PERCENT = 20  # by default every 5th case is a test case
BACKGROUND, CELL, IGNORE = 0, 1, 2


def _cell_ids(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """int32 [H, W]: 0 outside cells, k in the k-th cell; neighbours share Voronoi edges."""
    count = int(rng.integers(12, 26))
    centres = np.stack([rng.uniform(0, h, count), rng.uniform(0, w, count)], axis=1)
    radii = rng.uniform(0.09, 0.16, count) * min(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    wobble = 0.85 + 0.3 * drawing.smooth_noise(rng, h, w, cells=min(h, w) / 8)
    scaled = np.stack(
        [np.hypot(yy - cy, xx - cx) / r for (cy, cx), r in zip(centres, radii, strict=True)]
    )
    nearest = scaled.argmin(axis=0)
    inside = scaled.min(axis=0) <= wobble
    return np.where(inside, nearest + 1, 0).astype(np.int32)


def _gaps(ids: np.ndarray, width: int) -> np.ndarray:
    """Pixels of a cell that touch a different cell within `width` px (the separating gap)."""
    gap = np.zeros(ids.shape, bool)
    for dy, dx in ((0, 1), (1, 0)):
        for step in range(1, width + 1):
            a = ids[: ids.shape[0] - step * dy, : ids.shape[1] - step * dx]
            b = ids[step * dy :, step * dx :]
            differ = (a > 0) & (b > 0) & (a != b)
            gap[: ids.shape[0] - step * dy, : ids.shape[1] - step * dx] |= differ
            gap[step * dy :, step * dx :] |= differ
    return gap


def render_cells(
    seed: int, index: int, size: tuple[int, int] | None = None, with_ignore: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image H x W uint8, mask H x W uint8, cell ids H x W int32) of case `index`."""
    rng = np.random.default_rng([seed, index, 7])
    h, w = size if size is not None else (int(rng.integers(160, 257)), int(rng.integers(160, 257)))
    ids = _cell_ids(rng, h, w)
    gap = _gaps(ids, int(rng.integers(1, 3)))
    ids[gap] = 0
    mask = np.where(ids > 0, CELL, BACKGROUND).astype(np.uint8)

    background = 40 + 50 * drawing.fractal(rng, h, w, cells=12, octaves=3)
    interior = 120 + 70 * drawing.fractal(rng, h, w, cells=5, octaves=2)
    cells = drawing.blurred(ids > 0, 1.0)
    seams = drawing.blurred(gap, 0.8)  # the separating gap: only slightly darker than a cell
    image = background + (interior - background) * cells - 18.0 * seams
    image += rng.normal(0, 6, (h, w))
    if with_ignore:  # an unannotated band, as in sparsely labelled data
        top = int(rng.integers(0, h - h // 6))
        mask[top : top + h // 6] = IGNORE
    return np.clip(image, 0, 255).astype(np.uint8), mask, ids


def _is_test(index: int, percent: int) -> bool:
    """Whether case `index` is a test case: `percent` in every hundred, evenly spread (with 20,
    every 5th)."""
    return (index + 1) * percent // 100 > index * percent // 100


def _description(num_training: int, with_ignore: bool) -> dict:
    labels = {"background": BACKGROUND, "cell": CELL}
    if with_ignore:
        labels["ignore"] = IGNORE
    return {
        "name": "synthetic-cells",
        "channel_names": {"0": "EM"},
        "labels": labels,
        "numTraining": num_training,
        "file_ending": ".png",
    }


def generate_synthetic_cells(
    out_dir: str,
    num_images: int,
    seed: int = 0,
    with_ignore: bool = False,
    overwrite: bool = False,
    image_size: tuple[int, int] | None = None,
    test_percent: int = 0,
) -> str:
    """Writes `num_images` cases in nnU-Net's layout under `out_dir`; returns `out_dir`.

    image_size: (height, width) for every case; None draws 160-256 px a side.
    test_percent: the share of cases written as test cases, spread evenly (0: a fifth).
    A folder that already holds a set made with the same parameters is left as it is (the
    pipeline's cache stays valid) unless `overwrite`.
    """
    if num_images < 2:
        raise ValueError(f"num_images must be at least 2 (train and test), got {num_images}")
    if not 0 <= test_percent < 100:
        raise ValueError(f"test_percent must be in [0, 100), got {test_percent}")
    percent = test_percent or TEST_PERCENT
    marker = {"generator_version": GENERATOR_VERSION, "num_images": num_images, "seed": seed,
              "with_ignore": with_ignore, "image_size": list(image_size or ())}  # fmt: skip
    if percent != TEST_PERCENT:  # the default leaves the marker (and the pipeline cache) as it was
        marker["test_percent"] = percent
    marker_path = os.path.join(out_dir, MARKER_FILE)
    if os.path.exists(marker_path):
        with open(marker_path) as f:
            if json.load(f) == marker and not overwrite:
                return out_dir
        for sub in ("imagesTr", "labelsTr", "imagesTs", "labelsTs", "dataset.json"):
            path = os.path.join(out_dir, sub)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.isfile(path):
                os.remove(path)
        os.remove(marker_path)
    for sub in ("imagesTr", "labelsTr", "imagesTs", "labelsTs"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    num_training = 0
    for index in range(num_images):
        image, mask, _ = render_cells(seed, index, image_size, with_ignore)
        test = _is_test(index, percent)
        images_dir, labels_dir = ("imagesTs", "labelsTs") if test else ("imagesTr", "labelsTr")
        num_training += not test
        case = f"cells_{index + 1:04d}"
        drawing.write(
            os.path.join(out_dir, images_dir, f"{case}_0000.png"), drawing.encode(image, "PNG")
        )
        drawing.write(os.path.join(out_dir, labels_dir, f"{case}.png"), drawing.encode(mask, "PNG"))
    with open(os.path.join(out_dir, "dataset.json"), "w") as f:
        json.dump(_description(num_training, with_ignore), f, indent=2)
    with open(marker_path, "w") as f:  # last: a crash midway leaves no valid-looking marker
        json.dump(marker, f, sort_keys=True)
    return out_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder to write the data set to")
    parser.add_argument("--num-images", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--with-ignore", action="store_true", help="add an ignore label")
    parser.add_argument("--size", type=int, default=None, help="square images of this side")
    args = parser.parse_args(argv)
    size = (args.size, args.size) if args.size else None
    generate_synthetic_cells(args.out, args.num_images, args.seed, args.with_ignore, False, size)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
