"""Drawing helpers the synthetic data sets share: textures, perturbed ellipses, blur, encoding.

All NumPy and Pillow (in C where it matters), seeded through the caller's numpy Generator.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageFilter

# Fur colours (RGB) the pets draw from; backgrounds draw from the whole cube, so they overlap.
FUR_COLOURS = np.array(
    [
        [40, 30, 25], [90, 60, 40], [150, 100, 60], [200, 150, 90], [220, 200, 170],
        [240, 235, 225], [120, 120, 125], [70, 70, 75], [190, 110, 50], [160, 140, 120],
    ],
    dtype=np.float32,
)  # fmt: skip


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: float) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid upsampled bicubically (Pillow, in C)."""
    gh = max(2, int(round(h / cells)) + 1)
    gw = max(2, int(round(w / cells)) + 1)
    grid = Image.fromarray(rng.random((gh, gw), dtype=np.float32), mode="F")
    return np.asarray(grid.resize((w, h), Image.BICUBIC), dtype=np.float32).clip(0.0, 1.0)


def fractal(rng: np.random.Generator, h: int, w: int, cells: float, octaves: int) -> np.ndarray:
    total = np.zeros((h, w), np.float32)
    weight, norm = 1.0, 0.0
    for _ in range(octaves):
        total += weight * smooth_noise(rng, h, w, cells)
        norm += weight
        weight *= 0.5
        cells = max(cells / 2.0, 1.5)
    return total / norm


def stripes(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, period: float) -> np.ndarray:
    """Wavy stripes in [0, 1] at a random angle: tabby fur, floor boards, curtains."""
    h, w = yy.shape
    angle = rng.uniform(0, np.pi)
    warp = smooth_noise(rng, h, w, cells=max(h, w) / 3.0) * rng.uniform(0.0, 2.5 * period)
    phase = (xx * np.cos(angle) + yy * np.sin(angle) + warp) * (2 * np.pi / period)
    return 0.5 + 0.5 * np.sin(phase)


def mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-pixel blend of colours a and b (RGB) by t in [0, 1], channels first (3 x H x W).

    Channels first keeps numpy's inner loops over whole rows instead of over 3 channels.
    """
    return np.stack([a[c] + (b[c] - a[c]) * t for c in range(3)])


def random_colour(rng: np.random.Generator, fur: bool) -> np.ndarray:
    if fur:
        base = FUR_COLOURS[rng.integers(len(FUR_COLOURS))]
        return np.clip(base + rng.normal(0, 18, 3), 0, 255).astype(np.float32)
    return rng.uniform(20, 240, 3).astype(np.float32)


def texture(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, fur: bool) -> np.ndarray:
    """An RGB texture (3 x H x W float32 in [0, 255]); fur and background share the same kinds."""
    h, w = yy.shape
    c1, c2 = random_colour(rng, fur), random_colour(rng, fur or rng.random() < 0.4)
    kind = rng.choice(["noise", "stripes", "spots"], p=[0.5, 0.3, 0.2] if fur else [0.6, 0.3, 0.1])
    scale = rng.uniform(4, 14) if fur else rng.uniform(10, 60)
    if kind == "noise":
        t = fractal(rng, h, w, cells=scale * 2, octaves=3)
    elif kind == "stripes":
        t = 0.6 * stripes(rng, yy, xx, period=scale * 2) + 0.4 * fractal(rng, h, w, scale, 2)
    else:
        blobs = smooth_noise(rng, h, w, cells=scale * 1.5)
        t = 0.7 * (blobs > rng.uniform(0.55, 0.7)) + 0.3 * smooth_noise(rng, h, w, scale / 2)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return mix(c1, c2, t.astype(np.float32))


def blob(
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


def harmonics(rng: np.random.Generator, count: int, strength: float) -> list:
    return [
        (int(k), float(rng.uniform(0.3, 1.0) * strength / k**0.5), float(rng.uniform(0, 2 * np.pi)))
        for k in rng.choice(np.arange(2, 7), size=count, replace=False)
    ]


def blurred(mask: np.ndarray, radius: float) -> np.ndarray:
    """A Gaussian-blurred boolean mask as float32 in [0, 1] (Pillow's blur, in C)."""
    blurred = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(blurred, np.float32) / 255.0


def encode(array: np.ndarray, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **params)
    return buffer.getvalue()


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
