"""Elastic deformation and flips: exact identities, shifts, and tile/label alignment."""

from __future__ import annotations

import numpy as np
import pytest

from core.contracts import IGNORE_LABEL
from models.training import augment

# isort: split
# TensorFlow after the project import, which selects Keras 2 (tf_keras) before TF loads.
import tensorflow as tf

TILE, OUT = 92, 52  # the test preset's geometry: margin 20
MARGIN = (TILE - OUT) // 2
PALETTE = np.array([[220, 30, 30], [30, 200, 40], [40, 60, 230]], np.uint8)  # class -> colour
IGNORE_COLOUR = np.array([128, 128, 128], np.uint8)


def _random_example(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (TILE, TILE, 3), dtype=np.uint8)
    label = rng.integers(0, 3, (OUT, OUT)).astype(np.int64)
    label[:, :4] = IGNORE_LABEL
    return image, label


def _colour_coded_example() -> tuple[np.ndarray, np.ndarray]:
    """A label of large blobs and an IGNORE strip; the tile's colours encode the label's classes.

    The tile is the label's colour image mirror-padded by the margin, as Transform builds tiles.
    """
    yy, xx = np.mgrid[:OUT, :OUT]
    label = np.ones((OUT, OUT), np.int64)
    label[np.hypot(yy - 20, xx - 18) < 14] = 2
    label[np.hypot(yy - 20, xx - 18) < 11] = 0
    label[(yy > 34) & (xx > 30)] = 0
    label[:, 46:] = IGNORE_LABEL
    centre = np.where(
        (label == IGNORE_LABEL)[..., None], IGNORE_COLOUR, PALETTE[np.minimum(label, 2)]
    )
    image = np.pad(centre, [(MARGIN, MARGIN), (MARGIN, MARGIN), (0, 0)], mode="reflect")
    return image.astype(np.uint8), label


def _class_from_colour(image: np.ndarray) -> np.ndarray:
    """The label's centre O x O read back from tile colours (nearest palette colour)."""
    centre = image[MARGIN : MARGIN + OUT, MARGIN : MARGIN + OUT].astype(np.float32)
    distances = np.linalg.norm(
        centre[:, :, None, :] - PALETTE[None, None].astype(np.float32), axis=-1
    )
    return distances.argmin(-1)


def _agreement(image: np.ndarray, label: np.ndarray) -> tuple[float, int]:
    valid = (label != IGNORE_LABEL) & np.all(
        image[MARGIN : MARGIN + OUT, MARGIN : MARGIN + OUT] != IGNORE_COLOUR, axis=-1
    )
    agree = _class_from_colour(image)[valid] == label[valid]
    return float(agree.mean()), int(valid.sum())


def test_zero_displacement_is_the_exact_identity():
    image, label = _random_example()
    warped, warped_label = augment.warp(image, label, tf.zeros([TILE, TILE, 2]))
    assert warped.dtype == tf.uint8 and warped_label.dtype == tf.int64
    np.testing.assert_array_equal(warped.numpy(), image)
    np.testing.assert_array_equal(warped_label.numpy(), label)


@pytest.mark.parametrize("dy,dx", [(3, -2), (-7, 5), (0, 11)])
def test_constant_integer_shift_moves_image_and_label_together(dy, dx):
    image, label = _random_example(1)
    field = tf.constant(np.broadcast_to([dy, dx], (TILE, TILE, 2)), tf.float32)
    warped, warped_label = (t.numpy() for t in augment.warp(image, label, field))

    # image: output[y, x] = input[y + dy, x + dx], mirrored (REFLECT) where that leaves the tile
    padded = np.pad(image, [(20, 20), (20, 20), (0, 0)], mode="reflect")
    expected = padded[20 + dy : 20 + dy + TILE, 20 + dx : 20 + dx + TILE]
    np.testing.assert_array_equal(warped, expected)

    # label: the same shift; pixels pulled from outside the label region become IGNORE
    expected_label = np.full_like(label, IGNORE_LABEL)
    ys, xs = np.mgrid[:OUT, :OUT]
    src_y, src_x = ys + dy, xs + dx
    inside = (src_y >= 0) & (src_y < OUT) & (src_x >= 0) & (src_x < OUT)
    expected_label[inside] = label[src_y[inside], src_x[inside]]
    np.testing.assert_array_equal(warped_label, expected_label)
    assert (warped_label == IGNORE_LABEL).sum() >= OUT * max(abs(dy), abs(dx))


def test_label_uses_the_centre_of_the_field():
    """A field that is non-zero only outside the label's region leaves the label untouched."""
    image, label = _random_example(2)
    field = np.full((TILE, TILE, 2), 9.0, np.float32)
    field[MARGIN : MARGIN + OUT, MARGIN : MARGIN + OUT] = 0.0
    warped, warped_label = augment.warp(image, label, field)
    np.testing.assert_array_equal(warped_label.numpy(), label)
    inner = slice(MARGIN, MARGIN + OUT)
    np.testing.assert_array_equal(warped.numpy()[inner, inner], image[inner, inner])
    assert not np.array_equal(warped.numpy(), image)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_field_keeps_image_and_label_aligned(seed):
    image, label = _colour_coded_example()
    assert _agreement(image, label) == (1.0, int((label != IGNORE_LABEL).sum()))
    field = augment.random_displacement(TILE, grid_size=3, std_px=10.0, seed=[seed, 7])
    assert float(tf.reduce_max(tf.abs(field))) > 3.0  # a real deformation
    warped, warped_label = (t.numpy() for t in augment.warp(image, label, field))
    assert not np.array_equal(warped_label, label)
    agreement, count = _agreement(warped, warped_label)
    assert count > OUT * OUT // 2
    assert agreement > 0.99


@pytest.mark.parametrize("flip_rows, flip_cols", [(True, False), (False, True), (True, True)])
def test_a_flip_folded_into_the_warp_equals_warping_then_flipping(flip_rows, flip_cols):
    """Mirroring the output grid in the warp is the same as flipping the warped tile and label,
    with the field mirrored the same way; so tile and label stay aligned."""
    image, label = _random_example(3)
    field = augment.random_displacement(TILE, grid_size=3, std_px=10.0, seed=[4, 2])
    axes = [axis for axis, flip in ((0, flip_rows), (1, flip_cols)) if flip]
    folded = augment.warp(image, label, field, flip_rows, flip_cols)
    warped = augment.warp(image, label, tf.reverse(field, axes))
    for got, want in zip(folded, warped, strict=True):
        np.testing.assert_array_equal(got.numpy(), tf.reverse(want, axes).numpy())
    colour_image, colour_label = _colour_coded_example()
    compiled = augment._compiled_warp(colour_image, colour_label, field, flip_rows, flip_cols)
    assert _agreement(*(t.numpy() for t in compiled))[0] > 0.99


def test_misaligned_geometry_would_be_detected():
    """Sanity check of the alignment measure: a label shifted by 3 px against the image fails."""
    image, label = _colour_coded_example()
    shifted = np.full_like(label, IGNORE_LABEL)
    shifted[3:] = label[:-3]
    agreement, _ = _agreement(image, shifted)
    assert agreement < 0.97


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_flips_keep_alignment_exactly(seed):
    image, label = _colour_coded_example()
    flipped, flipped_label = (t.numpy() for t in augment.random_flip(image, label, seed=[seed, 1]))
    assert _agreement(flipped, flipped_label)[0] == 1.0
    assert sorted(np.unique(flipped_label)) == sorted(np.unique(label))


def test_flips_happen_on_both_axes():
    image, label = _colour_coded_example()
    seen = set()
    for seed in range(16):
        flipped = augment.random_flip(image, label, seed=[seed, 3])[1].numpy()
        for name, candidate in (
            ("none", label),
            ("v", label[::-1]),
            ("h", label[:, ::-1]),
            ("both", label[::-1, ::-1]),
        ):
            if np.array_equal(flipped, candidate):
                seen.add(name)
                break
        else:
            pytest.fail("flip produced something that is not a flip")
    assert seen == {"none", "v", "h", "both"}


def test_augment_keeps_dtypes_shapes_and_is_seed_deterministic():
    image, label = _random_example(3)
    kwargs = dict(grid_size=3, std_px=10.0, flip=True)
    out_image, out_label = augment.augment(image, label, seed=[5, 6], **kwargs)
    assert out_image.dtype == tf.uint8 and out_image.shape == (TILE, TILE, 3)
    assert out_label.dtype == tf.int64 and out_label.shape == (OUT, OUT)
    again = augment.augment(image, label, seed=[5, 6], **kwargs)
    np.testing.assert_array_equal(again[0].numpy(), out_image.numpy())
    np.testing.assert_array_equal(again[1].numpy(), out_label.numpy())
    other = augment.augment(image, label, seed=[5, 7], **kwargs)
    assert not np.array_equal(other[0].numpy(), out_image.numpy())


def test_augment_without_deformation_or_flip_is_identity():
    image, label = _random_example(4)
    out_image, out_label = augment.augment(image, label, grid_size=3, std_px=0.0, flip=False)
    np.testing.assert_array_equal(out_image.numpy(), image)
    np.testing.assert_array_equal(out_label.numpy(), label)


def test_augment_runs_in_a_parallel_tf_data_map():
    image, label = _colour_coded_example()
    dataset = tf.data.Dataset.from_tensors((image, label)).repeat(4)
    dataset = dataset.map(
        lambda i, lab: augment.augment(i, lab, grid_size=3, std_px=10.0, flip=True),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    assert dataset.element_spec[0].shape == (TILE, TILE, 3)
    assert dataset.element_spec[1].shape == (OUT, OUT)
    outputs = list(dataset.as_numpy_iterator())
    assert len(outputs) == 4
    assert len({out[1].tobytes() for out in outputs}) == 4  # fresh randomness per element
    for warped, warped_label in outputs:
        assert warped.dtype == np.uint8 and warped_label.dtype == np.int64
        assert _agreement(warped, warped_label)[0] > 0.99


def test_random_displacement_is_smooth_with_the_requested_spread():
    fields = np.stack(
        [augment.random_displacement(TILE, 3, 10.0, seed=[s, 0]).numpy() for s in range(200)]
    )
    assert fields.shape == (200, TILE, TILE, 2)
    # the coarse grid's points sit on the tile corners and centre: there the spread is std_px
    for y, x in ((0, 0), (TILE - 1, 0), ((TILE - 1) // 2, (TILE - 1) // 2)):
        assert 8.0 < fields[:, y, x].std() < 12.0
    # smooth: neighbouring pixels differ by a small fraction of a pixel
    assert np.abs(np.diff(fields, axis=1)).max() < 2.0
    assert np.abs(np.diff(fields, axis=2)).max() < 2.0
    np.testing.assert_array_equal(augment.random_displacement(TILE, 3, 0.0, seed=[1, 1]), 0.0)


def test_bad_grid_size_is_rejected():
    with pytest.raises(ValueError, match="grid_size"):
        augment.random_displacement(TILE, grid_size=0, std_px=10.0)


def test_compiled_and_plain_warps_agree():
    image, label = _random_example(5)
    field = augment.random_displacement(TILE, 3, 10.0, seed=[9, 9])
    plain = [t.numpy() for t in augment.warp(image, label, field)]
    compiled = [t.numpy() for t in augment._compiled_warp(image, label, field)]
    np.testing.assert_array_equal(compiled[1], plain[1])
    difference = np.abs(compiled[0].astype(int) - plain[0].astype(int))
    assert difference.max() <= 1 and (difference > 0).mean() < 0.001
    for jit in (True, False):
        out = augment.elastic_deform(image, label, 3, 10.0, seed=[1, 2], jit_compile=jit)
        assert out[0].dtype == tf.uint8 and out[1].dtype == tf.int64
    zero = augment.elastic_deform(image, label, 3, 0.0, jit_compile=True)
    np.testing.assert_array_equal(zero[0].numpy(), image)
    np.testing.assert_array_equal(zero[1].numpy(), label)
