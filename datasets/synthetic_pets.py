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
import io
import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

# The 37 Oxford breeds in CLASS-ID order; cats are capitalised, dogs are not (as in the real names).
BREEDS: tuple[str, ...] = (
    "Abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle",
    "Bengal", "Birman", "Bombay", "boxer", "British_Shorthair", "chihuahua", "Egyptian_Mau",
    "english_cocker_spaniel", "english_setter", "german_shorthaired", "great_pyrenees", "havanese",
    "japanese_chin", "keeshond", "leonberger", "Maine_Coon", "miniature_pinscher", "newfoundland",
    "Persian", "pomeranian", "pug", "Ragdoll", "Russian_Blue", "saint_bernard", "samoyed",
    "scottish_terrier", "shiba_inu", "Siamese", "Sphynx", "staffordshire_bull_terrier",
    "wheaten_terrier", "yorkshire_terrier",
)  # fmt: skip
CAT, DOG = 1, 2
LIST_HEADER = (
    "#Image CLASS-ID SPECIES BREED ID",
    "#ID: 1:37 Class ids",
    "#SPECIES: 1:Cat 2:Dog",
    "#BREED ID: 1-25:Cat 1:12:Dog",
    "#All images with 1st letter as captial are cat images",
    "#images with small first letter are dog images",
)
MARKER_FILE = "synthetic_pets.json"  # parameters of the set; a matching one skips regeneration
GENERATOR_VERSION = 3  # bump when the pixels change: a marker of an older version regenerates
MIN_SIDE, MAX_SIDE = 100, 500

# Fur colours (RGB) the pets draw from; backgrounds draw from the whole cube, so they overlap.
FUR_COLOURS = np.array(
    [
        [40, 30, 25], [90, 60, 40], [150, 100, 60], [200, 150, 90], [220, 200, 170],
        [240, 235, 225], [120, 120, 125], [70, 70, 75], [190, 110, 50], [160, 140, 120],
    ],
    dtype=np.float32,
)  # fmt: skip


@dataclass(frozen=True)
class Breed:
    """One row of the Oxford breed table: CLASS-ID 1..37, species, BREED-ID within the species."""

    class_id: int
    name: str
    species: int
    breed_id: int


def breed_table() -> tuple[Breed, ...]:
    """The 37 breeds with the columns Oxford's list files use."""
    rows, per_species = [], {CAT: 0, DOG: 0}
    for class_id, name in enumerate(BREEDS, start=1):
        species = CAT if name[0].isupper() else DOG
        per_species[species] += 1
        rows.append(Breed(class_id, name, species, per_species[species]))
    return tuple(rows)


@dataclass(frozen=True)
class PetRecord:
    """One generated example: its list-file row and its split."""

    name: str
    breed: Breed
    trainval: bool

    @property
    def list_line(self) -> str:
        return f"{self.name} {self.breed.class_id} {self.breed.species} {self.breed.breed_id}"


def plan(num_images: int) -> list[PetRecord]:
    """Names, breeds and splits: breeds in turn, and trainval/test alternating within a breed."""
    table = breed_table()
    records = []
    for i in range(num_images):
        breed = table[i % len(table)]
        number = i // len(table) + 1
        records.append(PetRecord(f"{breed.name}_{number}", breed, (i + number) % 2 == 1))
    return records


# --- textures ------------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: float) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid upsampled bicubically (Pillow, in C)."""
    gh = max(2, int(round(h / cells)) + 1)
    gw = max(2, int(round(w / cells)) + 1)
    grid = Image.fromarray(rng.random((gh, gw), dtype=np.float32), mode="F")
    return np.asarray(grid.resize((w, h), Image.BICUBIC), dtype=np.float32).clip(0.0, 1.0)


def _fractal(rng: np.random.Generator, h: int, w: int, cells: float, octaves: int) -> np.ndarray:
    total = np.zeros((h, w), np.float32)
    weight, norm = 1.0, 0.0
    for _ in range(octaves):
        total += weight * _smooth_noise(rng, h, w, cells)
        norm += weight
        weight *= 0.5
        cells = max(cells / 2.0, 1.5)
    return total / norm


def _stripes(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, period: float) -> np.ndarray:
    """Wavy stripes in [0, 1] at a random angle: tabby fur, floor boards, curtains."""
    h, w = yy.shape
    angle = rng.uniform(0, np.pi)
    warp = _smooth_noise(rng, h, w, cells=max(h, w) / 3.0) * rng.uniform(0.0, 2.5 * period)
    phase = (xx * np.cos(angle) + yy * np.sin(angle) + warp) * (2 * np.pi / period)
    return 0.5 + 0.5 * np.sin(phase)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-pixel blend of colours a and b (RGB) by t in [0, 1], channels first (3 x H x W).

    Channels first keeps numpy's inner loops over whole rows instead of over 3 channels.
    """
    return np.stack([a[c] + (b[c] - a[c]) * t for c in range(3)])


def _random_colour(rng: np.random.Generator, fur: bool) -> np.ndarray:
    if fur:
        base = FUR_COLOURS[rng.integers(len(FUR_COLOURS))]
        return np.clip(base + rng.normal(0, 18, 3), 0, 255).astype(np.float32)
    return rng.uniform(20, 240, 3).astype(np.float32)


def _texture(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, fur: bool) -> np.ndarray:
    """An RGB texture (3 x H x W float32 in [0, 255]); fur and background share the same kinds."""
    h, w = yy.shape
    c1, c2 = _random_colour(rng, fur), _random_colour(rng, fur or rng.random() < 0.4)
    kind = rng.choice(["noise", "stripes", "spots"], p=[0.5, 0.3, 0.2] if fur else [0.6, 0.3, 0.1])
    scale = rng.uniform(4, 14) if fur else rng.uniform(10, 60)
    if kind == "noise":
        t = _fractal(rng, h, w, cells=scale * 2, octaves=3)
    elif kind == "stripes":
        t = 0.6 * _stripes(rng, yy, xx, period=scale * 2) + 0.4 * _fractal(rng, h, w, scale, 2)
    else:
        blobs = _smooth_noise(rng, h, w, cells=scale * 1.5)
        t = 0.7 * (blobs > rng.uniform(0.55, 0.7)) + 0.3 * _smooth_noise(rng, h, w, scale / 2)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return _mix(c1, c2, t.astype(np.float32))


# --- shapes --------------------------------------------------------------------------------------


def _blob(
    yy: np.ndarray,
    xx: np.ndarray,
    centre: tuple[float, float],
    axes: tuple[float, float],
    angle: float,
    harmonics: Sequence[tuple[int, float, float]] = (),
) -> np.ndarray:
    """An ellipse whose radius is perturbed by a few angular harmonics (k, amplitude, phase).

    Only the blob's bounding box is evaluated: ears and legs are small, the image is not.
    """
    h, w = yy.shape
    out = np.zeros((h, w), bool)
    cy, cx = centre
    a, b = max(axes[0], 1.0), max(axes[1], 1.0)
    reach = max(a, b) * (1.0 + sum(abs(amp) for _, amp, _ in harmonics)) + 1.0
    y0, y1 = max(int(cy - reach), 0), min(int(cy + reach) + 1, h)
    x0, x1 = max(int(cx - reach), 0), min(int(cx + reach) + 1, w)
    if y0 >= y1 or x0 >= x1:
        return out
    dy, dx = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / a
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / b
    rho = np.sqrt(u * u + v * v)
    limit = np.ones_like(rho)
    if harmonics:
        phi = np.arctan2(v, u)
        for k, amp, phase in harmonics:
            limit += amp * np.cos(k * phi + phase)
    out[y0:y1, x0:x1] = rho <= limit
    return out


def _harmonics(rng: np.random.Generator, count: int, strength: float) -> list:
    return [
        (int(k), float(rng.uniform(0.3, 1.0) * strength / k**0.5), float(rng.uniform(0, 2 * np.pi)))
        for k in rng.choice(np.arange(2, 7), size=count, replace=False)
    ]


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
    mask = _blob(yy, xx, (cy, cx), (a, b), angle, _harmonics(rng, 3, 0.12))
    ux, uy = np.cos(angle), np.sin(angle)  # body axis
    nx, ny = -uy, ux  # its normal ("down" for the legs when the body is level)
    side = 1.0 if rng.random() < 0.5 else -1.0
    # head at one end of the body
    hr = b * rng.uniform(0.55, 0.95)
    hcx, hcy = cx + side * ux * a * 0.95, cy + side * uy * a * 0.95 - ny * b * rng.uniform(0, 0.6)
    mask |= _blob(yy, xx, (hcy, hcx), (hr, hr * rng.uniform(0.8, 1.1)), angle)
    for ear in (-1.0, 1.0):  # ears: small pointed ellipses on top of the head
        ex = hcx + ear * hr * 0.55 * ux - nx * hr * 0.8
        ey = hcy + ear * hr * 0.55 * uy - ny * hr * 0.8
        ear_axes = (hr * rng.uniform(0.18, 0.3), hr * rng.uniform(0.35, 0.6))
        mask |= _blob(yy, xx, (ey, ex), ear_axes, angle + ear * 0.3, ((2, 0.15, 0.0),))
    for leg in range(int(rng.integers(0, 5))):  # legs below the body
        offset = (leg / 3.0 - 0.5) * 1.4 * a
        lx = cx + ux * offset + nx * b * 0.9
        ly = cy + uy * offset + ny * b * 0.9
        leg_axes = (b * rng.uniform(0.12, 0.22), b * rng.uniform(0.45, 0.8))
        mask |= _blob(yy, xx, (ly, lx), leg_axes, angle)
    if rng.random() < 0.6:  # tail at the other end
        tx, ty = cx - side * ux * a * 1.1, cy - side * uy * a * 1.1
        tail_axes = (a * rng.uniform(0.3, 0.55), b * rng.uniform(0.08, 0.16))
        mask |= _blob(yy, xx, (ty, tx), tail_axes, angle + rng.uniform(-0.8, 0.8))
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


def _blurred(mask: np.ndarray, radius: float) -> np.ndarray:
    """A Gaussian-blurred boolean mask as float32 in [0, 1] (Pillow's blur, in C)."""
    blurred = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(blurred, np.float32) / 255.0


def _image_size(rng: np.random.Generator) -> tuple[int, int]:
    """(height, width): a long side of 150-500 px, aspect 0.55-1, either orientation."""
    long_side = int(rng.integers(150, MAX_SIDE + 1))
    short_side = max(MIN_SIDE, int(round(long_side * rng.uniform(0.55, 1.0))))
    return (long_side, short_side) if rng.random() < 0.4 else (short_side, long_side)


def render_pet(
    seed: int, index: int, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Image (H x W x 3 uint8), trimap (H x W uint8 in {1,2,3}) and JPEG quality of pet `index`."""
    rng = np.random.default_rng([seed, index])
    h, w = size if size is not None else _image_size(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    image = _texture(rng, yy, xx, fur=False)  # channels first until the end
    light = _smooth_noise(rng, h, w, cells=max(h, w) / 1.5)
    image *= 0.7 + 0.5 * light
    # Pet-sized distractors that are background: shapes a model must not call pets. Their
    # textures are background kinds (colours may still match fur), so that the set stays learnable
    # by the demo preset on a CPU in minutes; fur-textured distractors made it a shape-only task.
    for _ in range(int(rng.integers(0, 3))):
        dmask = _blob(
            yy, xx,
            (rng.uniform(0, h), rng.uniform(0, w)),
            (rng.uniform(0.1, 0.35) * w, rng.uniform(0.1, 0.35) * h),
            rng.uniform(0, np.pi),
            _harmonics(rng, 2, 0.15),
        )  # fmt: skip
        image[:, dmask] = _texture(rng, yy, xx, fur=False)[:, dmask]

    pet = _pet_mask(rng, yy, xx)
    fur = _texture(rng, yy, xx, fur=True)
    shade = _blurred(pet, 6.0)
    fur *= 0.55 + 0.45 * shade + 0.25 * (light - 0.5)  # darker towards the outline
    alpha = _blurred(pet, rng.uniform(0.6, 1.4))  # soft, anti-aliased outline
    image += (fur - image) * alpha
    image += rng.standard_normal((h, w), dtype=np.float32) * np.float32(rng.uniform(2, 8))
    image_u8 = np.ascontiguousarray(np.clip(image, 0, 255).astype(np.uint8).transpose(1, 2, 0))

    trimap = np.full((h, w), 2, np.uint8)
    trimap[pet] = 1
    trimap[_border_band(pet, int(rng.integers(1, 4)))] = 3
    return image_u8, trimap, int(rng.integers(72, 95))


def _encode(array: np.ndarray, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


# --- the folder ----------------------------------------------------------------------------------


def _marker(num_images: int, seed: int, size: tuple[int, int] | None) -> dict:
    return {
        "generator_version": GENERATOR_VERSION,
        "num_images": num_images,
        "seed": seed,
        "image_size": list(size) if size else None,
    }


def generate_synthetic_pets(
    out_dir: str,
    num_images: int,
    seed: int = 0,
    image_size: tuple[int, int] | None = None,
    overwrite: bool = False,
) -> str:
    """Writes `num_images` pets in the Oxford-IIIT Pet layout under `out_dir`; returns `out_dir`.

    image_size: (height, width) for every image (benchmarks); None draws assorted sizes.
    A folder that already holds a set made with the same parameters is left as it is (so a
    pipeline's ExampleGen input fingerprint, and its cache, stay valid) unless `overwrite`.
    """
    if num_images < 1:
        raise ValueError(f"num_images must be positive, got {num_images}")
    marker = _marker(num_images, seed, image_size)
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

    records = plan(num_images)
    for index, record in enumerate(records):
        image, trimap, quality = render_pet(seed, index, image_size)
        jpeg = _encode(image, "JPEG", quality=quality)
        _write(os.path.join(images_dir, record.name + ".jpg"), jpeg)
        _write(os.path.join(trimaps_dir, record.name + ".png"), _encode(trimap, "PNG"))

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
