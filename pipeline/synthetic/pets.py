"""A seeded stand-in for Oxford-IIIT Pet, written in the data set's own folder layout.

The real data set cannot be downloaded on the machines that run petunet, so the default run
generates this one and feeds it through the same ExampleGen as the real files:

    images/NAME.jpg                JPEG, assorted sizes (about 100-500 px a side, both orientations)
    annotations/trimaps/NAME.png   8-bit PNG: 1 pet, 2 background, 3 a 1-3 px border band
    annotations/list.txt           6 '#' header lines, then NAME CLASS-ID SPECIES BREED-ID
    annotations/trainval.txt       same columns, no header (about half of the names)
    annotations/test.txt           the other half

A "pet" is a union of a few perturbed ellipses (body, head, ears, legs, tail) with a fur-like
texture on a textured background that also holds pet-sized distractor blobs (with background
textures); colours of pets and backgrounds overlap, so a model has to learn texture, shape and
context, and no single class dominates the pixels. Image i depends only on (seed, i): the same
seed gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from pipeline.synthetic import drawing
from pipeline.synthetic.catalogue import LIST_HEADER, assorted_size, oxford_size, plan

MARKER_FILE = "synthetic_pets.json"  # parameters of the set; a matching one skips regeneration
GENERATOR_VERSION = 3  # bump when the pixels change: a marker of an older version regenerates


def _pet_mask(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Body + head + ears + legs + tail, each a perturbed ellipse; sizes and places vary."""
    h, w = yy.shape
    fraction = rng.uniform(0.10, 0.42)  # body's share of the image; limbs and head add to it
    body_area = fraction * h * w
    elong = rng.uniform(1.1, 2.2)
    b = np.sqrt(body_area / (np.pi * elong))
    a = b * elong
    angle = rng.uniform(-0.6, 0.6) + (np.pi / 2 if rng.random() < 0.25 else 0.0)
    cy = rng.uniform(0.3, 0.7) * h
    cx = rng.uniform(0.3, 0.7) * w
    mask = drawing.blob(yy, xx, (cy, cx), (a, b), angle, drawing.harmonics(rng, 3, 0.12))
    ux, uy = np.cos(angle), np.sin(angle)  # body axis
    nx, ny = -uy, ux  # its normal ("down" for the legs when the body is level)
    side = 1.0 if rng.random() < 0.5 else -1.0
    # head at one end of the body
    hr = b * rng.uniform(0.55, 0.95)
    hcx, hcy = cx + side * ux * a * 0.95, cy + side * uy * a * 0.95 - ny * b * rng.uniform(0, 0.6)
    mask |= drawing.blob(yy, xx, (hcy, hcx), (hr, hr * rng.uniform(0.8, 1.1)), angle)
    for ear in (-1.0, 1.0):  # ears: small pointed ellipses on top of the head
        ex = hcx + ear * hr * 0.55 * ux - nx * hr * 0.8
        ey = hcy + ear * hr * 0.55 * uy - ny * hr * 0.8
        ear_axes = (hr * rng.uniform(0.18, 0.3), hr * rng.uniform(0.35, 0.6))
        mask |= drawing.blob(yy, xx, (ey, ex), ear_axes, angle + ear * 0.3, ((2, 0.15, 0.0),))
    for leg in range(int(rng.integers(0, 5))):  # legs below the body
        offset = (leg / 3.0 - 0.5) * 1.4 * a
        lx = cx + ux * offset + nx * b * 0.9
        ly = cy + uy * offset + ny * b * 0.9
        leg_axes = (b * rng.uniform(0.12, 0.22), b * rng.uniform(0.45, 0.8))
        mask |= drawing.blob(yy, xx, (ly, lx), leg_axes, angle)
    if rng.random() < 0.6:  # tail at the other end
        tx, ty = cx - side * ux * a * 1.1, cy - side * uy * a * 1.1
        tail_axes = (a * rng.uniform(0.3, 0.55), b * rng.uniform(0.08, 0.16))
        mask |= drawing.blob(yy, xx, (ty, tx), tail_axes, angle + rng.uniform(-0.8, 0.8))
    return mask


def _border_band(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels within a band of `width` px straddling the pet outline (Oxford's trimap value 3)."""
    inner = (width + 1) // 2
    outer = width - inner
    # border_value=1: where the pet is cut off by the image edge there is no outline to mark
    eroded = ndimage.binary_erosion(mask, iterations=inner, border_value=1)
    dilated = ndimage.binary_dilation(mask, iterations=outer) if outer else mask
    return dilated & ~eroded


# --- one image -----------------------------------------------------------------------------------


def render_pet(
    seed: int, index: int, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Image (H x W x 3 uint8), trimap (H x W uint8 in {1,2,3}) and JPEG quality of pet `index`."""
    rng = np.random.default_rng([seed, index])
    h, w = size if size is not None else assorted_size(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    image = drawing.texture(rng, yy, xx, fur=False)  # channels first until the end
    light = drawing.smooth_noise(rng, h, w, cells=max(h, w) / 1.5)
    image *= 0.7 + 0.5 * light
    # Pet-sized distractors that are background: shapes a model must not call pets. Their
    # textures are background kinds (colours may still match fur), so that the set stays learnable
    # by the demo preset on a CPU in minutes; fur-textured distractors made it a shape-only task.
    for _ in range(int(rng.integers(0, 3))):
        dmask = drawing.blob(
            yy, xx,
            (rng.uniform(0, h), rng.uniform(0, w)),
            (rng.uniform(0.1, 0.35) * w, rng.uniform(0.1, 0.35) * h),
            rng.uniform(0, np.pi),
            drawing.harmonics(rng, 2, 0.15),
        )  # fmt: skip
        image[:, dmask] = drawing.texture(rng, yy, xx, fur=False)[:, dmask]

    pet = _pet_mask(rng, yy, xx)
    fur = drawing.texture(rng, yy, xx, fur=True)
    shade = drawing.blurred(pet, 6.0)
    fur *= 0.55 + 0.45 * shade + 0.25 * (light - 0.5)  # darker towards the outline
    alpha = drawing.blurred(pet, rng.uniform(0.6, 1.4))  # soft, anti-aliased outline
    image += (fur - image) * alpha
    image += rng.standard_normal((h, w), dtype=np.float32) * np.float32(rng.uniform(2, 8))
    image_u8 = np.ascontiguousarray(np.clip(image, 0, 255).astype(np.uint8).transpose(1, 2, 0))

    trimap = np.full((h, w), 2, np.uint8)
    trimap[pet] = 1
    trimap[_border_band(pet, int(rng.integers(1, 4)))] = 3
    return image_u8, trimap, int(rng.integers(72, 95))


# --- the folder ----------------------------------------------------------------------------------


def _marker(num_images: int, seed: int, size: tuple[int, int] | None, **more) -> dict:
    return {
        "generator_version": GENERATOR_VERSION,
        "num_images": num_images,
        "seed": seed,
        "image_size": list(size) if size else None,
        **{k: v for k, v in more.items() if v is not None},
    }


PER_PROCESS = 400  # images worth a process of their own (starting one costs about a second)


def _write_pet(job: tuple) -> None:
    out_dir, seed, index, name, image_size, size_spread = job
    size = oxford_size(seed, index) if size_spread == "oxford" else image_size
    image, trimap, quality = render_pet(seed, index, size)
    jpeg = drawing.encode(image, "JPEG", quality=quality)
    drawing.write(os.path.join(out_dir, "images", name + ".jpg"), jpeg)
    trimaps = os.path.join(out_dir, "annotations", "trimaps")
    drawing.write(os.path.join(trimaps, name + ".png"), drawing.encode(trimap, "PNG"))


def generate_synthetic_pets(
    out_dir: str,
    num_images: int,
    seed: int = 0,
    image_size: tuple[int, int] | None = None,
    overwrite: bool = False,
    trainval_count: int | None = None,
    size_spread: str | None = None,
    test_percent: int = 0,
) -> str:
    """Writes `num_images` pets in the Oxford-IIIT Pet layout under `out_dir`; returns `out_dir`.

    image_size: (height, width) for every image (benchmarks); None draws assorted sizes (150-500
    px, or with size_spread="oxford" the real photographs' spread, see oxford_size).
    trainval_count: exactly that many trainval names (None: about half).
    test_percent: instead of trainval_count, that share of the names in test.txt (0: about half).
    A folder that already holds a set made with the same parameters is left as it is (so a
    pipeline's ExampleGen input fingerprint, and its cache, stay valid) unless `overwrite`.
    """
    if num_images < 1:
        raise ValueError(f"num_images must be positive, got {num_images}")
    if not 0 <= test_percent < 100:
        raise ValueError(f"test_percent must be in [0, 100), got {test_percent}")
    if test_percent and trainval_count is None:
        trainval_count = max(1, num_images - round(num_images * test_percent / 100))
    if size_spread not in (None, "oxford"):
        raise ValueError(f"size_spread must be None or 'oxford', got {size_spread!r}")
    marker = _marker(num_images, seed, image_size, trainval=trainval_count, spread=size_spread)
    marker_path = os.path.join(out_dir, MARKER_FILE)
    if os.path.exists(marker_path):
        with open(marker_path) as f:
            if json.load(f) == marker and not overwrite:
                return out_dir
        for sub in ("images", "annotations"):  # our own older set: do not leave stale files
            shutil.rmtree(os.path.join(out_dir, sub), ignore_errors=True)
        os.remove(marker_path)
    images_dir = os.path.join(out_dir, "images")
    trimaps_dir = os.path.join(out_dir, "annotations", "trimaps")
    os.makedirs(images_dir, exist_ok=True)
    os.makedirs(trimaps_dir, exist_ok=True)

    records = plan(num_images, trainval_count)
    jobs = [
        (out_dir, seed, index, record.name, image_size, size_spread)
        for index, record in enumerate(records)
    ]
    workers = min(os.cpu_count() or 1, len(jobs) // PER_PROCESS)
    if workers > 1:  # image i depends only on (seed, i): the same bytes in any process
        context = multiprocessing.get_context("spawn")  # no fork of a process running threads
        with context.Pool(workers) as pool:
            pool.map(_write_pet, jobs, chunksize=64)
    else:
        for job in jobs:
            _write_pet(job)

    records.sort(key=lambda r: r.name)
    annotations = os.path.join(out_dir, "annotations")
    lists = {
        "list.txt": list(LIST_HEADER) + [r.list_line for r in records],
        "trainval.txt": [r.list_line for r in records if r.trainval],
        "test.txt": [r.list_line for r in records if not r.trainval],
    }
    for file_name, lines in lists.items():
        with open(os.path.join(annotations, file_name), "w") as f:
            f.write("".join(line + "\n" for line in lines))
    with open(marker_path, "w") as f:  # last: a crash midway leaves no valid-looking marker
        json.dump(marker, f, sort_keys=True)
    return out_dir


def _parse_size(text: str) -> tuple[int, int]:
    """'500x375' (width x height, as image sizes are usually written) -> (height, width)."""
    width, height = (int(v) for v in text.lower().split("x"))
    return height, width


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder to write the data set to")
    parser.add_argument("--num-images", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=_parse_size, default=None, help="WIDTHxHEIGHT for all")
    parser.add_argument("--overwrite", action="store_true", help="regenerate even if up to date")
    args = parser.parse_args(argv)
    generate_synthetic_pets(args.out, args.num_images, args.seed, args.size, args.overwrite)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
