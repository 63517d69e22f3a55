"""Elastic deformation and flips of an overlap tile and its label (paper, Sec. 3.1), in TF ops only.

The label covers the centre O x O of the T x T tile, offset by the margin (T - O) / 2. One
displacement field is drawn over the whole tile; the image is warped with it and the label with its
centre crop, so both move together. The field is bicubic between the coarse grid's vectors (as in
the paper); the image is sampled bilinearly, the label by nearest neighbour. Everything here is
plain TensorFlow (no numpy_function), so the functions run inside `tf.data` maps on any device; the
warp itself is XLA-compiled by default. They take one example (no batch dimension): map them
before `batch`.

Randomness: seed=None uses stateful random ops (fresh values per call); a [2] integer seed uses
stateless ops, so the same seed gives the same deformation and flips.

Displacement convention (backward mapping): output pixel p samples the input at p + d(p), with
d[..., 0] the row (y) and d[..., 1] the column (x) displacement in pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from core.contracts import IGNORE_LABEL
from models.transform.overlap_tile import reflect_indices

Seed = tf.Tensor | Sequence[int] | None


def _margin(tile: tf.Tensor, out: tf.Tensor) -> tf.Tensor:
    """Offset of the label inside the tile; both sizes come from the tensors, not from constants."""
    return (tile - out) // 2


def _sample_bilinear(image: tf.Tensor, ys: tf.Tensor, xs: tf.Tensor) -> tf.Tensor:
    """Samples image [H, W, C] at float positions ys, xs [h, w] (reflected at the borders)."""
    shape = tf.shape(image)
    height, width, channels = shape[0], shape[1], shape[2]
    ys = reflect_indices(ys, height)
    xs = reflect_indices(xs, width)
    y0f, x0f = tf.floor(ys), tf.floor(xs)
    fy, fx = (ys - y0f)[..., None], (xs - x0f)[..., None]
    y0, x0 = tf.cast(y0f, tf.int32), tf.cast(x0f, tf.int32)
    y1, x1 = tf.minimum(y0 + 1, height - 1), tf.minimum(x0 + 1, width - 1)
    flat = tf.reshape(image, [-1, channels])

    def at(y: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
        return tf.cast(tf.gather(flat, y * width + x), tf.float32)

    top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx
    bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx
    return top * (1.0 - fy) + bottom * fy


def _positions(size: tf.Tensor, flipped: tf.Tensor | bool) -> tf.Tensor:
    """0..size-1 as float, reversed when `flipped`: the base grid of a (mirrored) warp."""
    positions = tf.cast(tf.range(size), tf.float32)
    return tf.where(flipped, tf.cast(size - 1, tf.float32) - positions, positions)


def warp(
    image: tf.Tensor,
    label: tf.Tensor,
    displacement: tf.Tensor,
    flip_rows: tf.Tensor | bool = False,
    flip_cols: tf.Tensor | bool = False,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Warps a tile and its centred label with one displacement field (the deterministic core).

    image: [T, T, C] (uint8 or float); label: [O, O] integer, centred in the tile;
    displacement: float [T, T, 2] over the tile. The image is sampled bilinearly with mirrored
    borders; the label by nearest neighbour with the field's centre O x O crop, and label pixels
    pulled from outside the label region become IGNORE_LABEL. Dtypes and shapes are kept.
    flip_rows / flip_cols mirror the output (output pixel p samples at mirror(p) + d(p)): a flip
    folded into the same sampling pass, so flipping costs nothing extra; both stay aligned because
    tile and label share one centre.
    """
    image = tf.convert_to_tensor(image)
    label = tf.convert_to_tensor(label)
    displacement = tf.cast(displacement, tf.float32)
    tile_h, tile_w = tf.shape(image)[0], tf.shape(image)[1]
    out_h, out_w = tf.shape(label)[0], tf.shape(label)[1]
    rows = _positions(tile_h, flip_rows)[:, None]
    cols = _positions(tile_w, flip_cols)[None, :]

    warped = _sample_bilinear(image, rows + displacement[..., 0], cols + displacement[..., 1])
    if image.dtype.is_integer:
        warped = tf.clip_by_value(tf.round(warped), image.dtype.min, image.dtype.max)
    warped = tf.ensure_shape(tf.cast(warped, image.dtype), image.shape)

    top, left = _margin(tile_h, out_h), _margin(tile_w, out_w)
    inner = displacement[top : top + out_h, left : left + out_w]
    label_rows = _positions(out_h, flip_rows)[:, None]
    label_cols = _positions(out_w, flip_cols)[None, :]
    src_y = tf.cast(tf.floor(label_rows + inner[..., 0] + 0.5), tf.int32)
    src_x = tf.cast(tf.floor(label_cols + inner[..., 1] + 0.5), tf.int32)
    inside = (src_y >= 0) & (src_y < out_h) & (src_x >= 0) & (src_x < out_w)
    index = tf.clip_by_value(src_y, 0, out_h - 1) * out_w + tf.clip_by_value(src_x, 0, out_w - 1)
    picked = tf.gather(tf.reshape(label, [-1]), index)
    warped_label = tf.where(inside, picked, tf.cast(IGNORE_LABEL, label.dtype))
    return warped, tf.ensure_shape(warped_label, label.shape)


_compiled_warp = tf.function(warp, jit_compile=True)


def _as_seed(seed: Seed) -> tf.Tensor | None:
    return None if seed is None else tf.cast(seed, tf.int64)


def _seeds(seed: Seed, count: int) -> list[tf.Tensor | None]:
    """Independent stateless seeds for the sub-steps, or None (stateful random ops) for each."""
    if seed is None:
        return [None] * count
    split = tf.random.experimental.stateless_split(_as_seed(seed), num=count)
    return [split[i] for i in range(count)]


def _normal(shape: tf.Tensor | list[int], seed: tf.Tensor | None) -> tf.Tensor:
    if seed is None:
        return tf.random.normal(shape)
    return tf.random.stateless_normal(shape, seed=seed)


def _uniform(shape: list[int], seed: tf.Tensor | None) -> tf.Tensor:
    if seed is None:
        return tf.random.uniform(shape)
    return tf.random.stateless_uniform(shape, seed=seed)


def random_displacement(
    size: tf.Tensor | int,
    grid_size: int,
    std_px: float,
    seed: Seed = None,
) -> tf.Tensor:
    """A smooth random field [size, size, 2]: Gaussian vectors on a grid_size^2 grid, bicubic.

    The coarse grid's outer points sit on the tile's corners (align_corners), so the grid spans the
    tile exactly as in the paper. seed: a [2] integer seed for stateless ops, or None.
    """
    if grid_size < 1:
        raise ValueError(f"grid_size must be at least 1, got {grid_size}")
    coarse = _normal([1, grid_size, grid_size, 2], _as_seed(seed)) * float(std_px)
    size = tf.convert_to_tensor(size, tf.int32)
    field = tf.raw_ops.ResizeBicubic(
        images=coarse, size=tf.stack([size, size]), align_corners=True, half_pixel_centers=False
    )
    return field[0]


def elastic_deform(
    image: tf.Tensor,
    label: tf.Tensor,
    grid_size: int,
    std_px: float,
    seed: Seed = None,
    *,
    jit_compile: bool = True,
    flips: tf.Tensor | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """The paper's elastic deformation of one tile [T, T, C] and its centred label [O, O].

    jit_compile: warp with XLA, which fuses the per-pixel arithmetic (faster on CPU, inside
    tf.data too); the field is drawn outside it, so stateful random ops are fine.
    flips: optional bool [2] (rows, columns) to mirror the result in the same pass.
    """
    tile = tf.shape(image)[0]
    field = random_displacement(tile, grid_size, std_px, seed)
    if flips is None:
        flips = tf.zeros([2], tf.bool)
    return (_compiled_warp if jit_compile else warp)(image, label, field, flips[0], flips[1])


def _flip_coins(seed: tf.Tensor | None) -> tf.Tensor:
    """bool [2]: flip rows, flip columns, each with probability 1/2."""
    return _uniform([2], seed) < 0.5


def random_flip(
    image: tf.Tensor, label: tf.Tensor, seed: Seed = None
) -> tuple[tf.Tensor, tf.Tensor]:
    """Random horizontal and vertical flips, the same for tile and label.

    Flipping about the common centre keeps them aligned because the label is centred in the tile.
    """
    coins = _flip_coins(_as_seed(seed))
    for axis in (0, 1):
        image = _reverse_if(image, coins[axis], axis)
        label = _reverse_if(label, coins[axis], axis)
    return image, label


def _reverse_if(tensor: tf.Tensor, condition: tf.Tensor, axis: int) -> tf.Tensor:
    return tf.cond(condition, lambda: tf.reverse(tensor, [axis]), lambda: tf.identity(tensor))


def augment(
    image: tf.Tensor,
    label: tf.Tensor,
    *,
    grid_size: int,
    std_px: float,
    flip: bool = True,
    seed: Seed = None,
    jit_compile: bool = True,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Elastic deformation (skipped when std_px is 0) and optional flips of one example.

    With a deformation, the flips are folded into its sampling pass (the same distribution as
    deforming, then flipping: the random field is symmetric under mirroring), which saves a
    separate pass over the tile.
    """
    image, label = tf.convert_to_tensor(image), tf.convert_to_tensor(label)
    elastic_seed, flip_seed = _seeds(seed, 2)
    if std_px > 0:
        flips = _flip_coins(_as_seed(flip_seed)) if flip else None
        return elastic_deform(
            image, label, grid_size, std_px, elastic_seed, jit_compile=jit_compile, flips=flips
        )
    if flip:
        image, label = random_flip(image, label, flip_seed)
    return image, label
