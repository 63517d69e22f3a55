"""Overlap-tile preprocessing: alignment of image and mask, IGNORE placement, the real Transform."""

import io
import os
import tempfile

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components.example_gen.oxford import OXFORD_PETS
from core import contracts, geometry
from core.config import TransformConfig
from models.transform import overlap_tile, preprocessing

PET_RGB = (250, 20, 20)
BACKGROUND_RGB = (20, 20, 250)


def _canvas_label(mask, box, canvas: int, spec):
    """The O x O label of a mask, through Transform's and the Trainer's two steps."""
    region = overlap_tile.mask_to_region(mask, box, spec)
    return overlap_tile.region_to_label(region, box, canvas)


def _pet_image(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An image whose pet pixels have a known colour, and its trimap (1 pet, 2 background)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
    ry, rx = 0.25 * height, 0.2 * width
    pet = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    image = np.where(pet[..., None], PET_RGB, BACKGROUND_RGB).astype(np.uint8)
    trimap = np.where(pet, 1, 2).astype(np.uint8)
    return image, trimap


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _interior(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood is entirely inside `mask` (resampling blends edges)."""
    padded = np.pad(mask, 1, constant_values=False)
    out = np.ones_like(mask)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            out &= padded[dy : dy + mask.shape[0], dx : dx + mask.shape[1]]
    return out


@pytest.mark.parametrize(
    "height,width", [(333, 500), (500, 333), (256, 256), (101, 347), (375, 99), (77, 77)]
)
def test_mask_sits_under_the_pet_colour_in_the_tile_centre(height, width):
    image, trimap = _pet_image(height, width)
    geo = geometry.geometry(316, 5)  # the demo tile: 132 px canvas, 92 px margin
    canvas, margin = geo.output, geo.margin
    tile, box = overlap_tile.image_to_tile(tf.constant(image), canvas, margin)
    label = _canvas_label(tf.constant(trimap[..., None]), box, canvas, OXFORD_PETS).numpy()
    tile = tile.numpy()
    assert tile.shape == (canvas + 2 * margin,) * 2 + (3,) and tile.dtype == np.uint8
    centre = tile[margin : margin + canvas, margin : margin + canvas].astype(int)
    pet, background = _interior(label == 0), _interior(label == 1)
    assert pet.sum() > 20 and background.sum() > 20
    assert np.abs(centre[pet] - PET_RGB).max() <= 2
    assert np.abs(centre[background] - BACKGROUND_RGB).max() <= 2


@pytest.mark.parametrize("height,width", [(333, 500), (500, 333), (240, 240), (101, 347)])
def test_ignore_covers_exactly_the_canvas_outside_the_image(height, width):
    image, trimap = _pet_image(height, width, seed=1)
    canvas = 132
    _, box = overlap_tile.image_to_tile(tf.constant(image), canvas, 92)
    top, left, h, w = box.numpy()
    label = _canvas_label(tf.constant(trimap[..., None]), box, canvas, OXFORD_PETS).numpy()
    inside = np.zeros((canvas, canvas), bool)
    inside[top : top + h, left : left + w] = True
    np.testing.assert_array_equal(label == contracts.IGNORE_LABEL, ~inside)
    assert set(np.unique(label[inside])) <= {0, 1}
    assert max(h, w) == canvas  # fits the canvas on its longer side
    assert abs(h / w - height / width) < 0.02  # keeps the aspect ratio
    assert abs((canvas - h) - 2 * top) <= 1 and abs((canvas - w) - 2 * left) <= 1  # centred


@pytest.mark.parametrize("height,width,band", [(500, 333, 1), (375, 500, 2), (150, 120, 3)])
def test_a_thin_border_band_stays_closed_on_the_smaller_canvas(height, width, band):
    """Shrunk 1-4x, a 1-3 px band still separates pet from background everywhere on the canvas."""
    yy, xx = np.mgrid[0:height, 0:width]
    distance = np.hypot(yy - 0.5 * height, xx - 0.45 * width)
    radius = 0.35 * min(height, width)
    trimap = np.full((height, width), 2, np.uint8)
    trimap[distance <= radius] = 1
    trimap[np.abs(distance - radius) < band / 2 + 0.5] = 3
    _, box = overlap_tile.image_to_tile(tf.zeros((height, width, 3), tf.uint8), 132, 92)
    label = _canvas_label(tf.constant(trimap[..., None]), box, 132, OXFORD_PETS).numpy()
    top, left, h, w = box.numpy()
    label = label[top : top + h, left : left + w]
    pet, background, border = label == 0, label == 1, label == 2
    assert pet.sum() > 1000 and background.sum() > 1000
    # pet and background never touch (4-neighbourhood): the outline is closed ...
    for a, b in ((pet, background), (background, pet)):
        assert not (a[1:] & b[:-1]).any() and not (a[:, 1:] & b[:, :-1]).any()
    # ... and no thicker than the band's footprint on the canvas (+1 px for straddling)
    scale = h / height
    perimeter = 2 * np.pi * radius * scale
    assert border.sum() <= perimeter * (band * scale + 2) * 1.2


def test_the_margin_and_canvas_fill_mirror_the_image():
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    box = tf.constant([2, 0, 4, 6])  # a 4x6 image on rows 2..5 of an 8x6 canvas
    tile = overlap_tile.mirror_tile(tf.constant(image), box, canvas=6, margin=3).numpy()
    expected_rows = np.pad(image, [(5, 3), (0, 0), (0, 0)], mode="reflect")
    expected = np.pad(expected_rows, [(0, 0), (3, 3), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(tile, expected[:12, :12])


def test_reflect_indices_handle_padding_wider_than_the_image():
    got = overlap_tile.reflect_indices(tf.range(-7, 10), 3).numpy()
    expected = np.pad(np.arange(3), 7, mode="reflect")[:17]
    np.testing.assert_array_equal(got, expected)
    assert set(overlap_tile.reflect_indices(tf.range(-5, 5), 1).numpy()) == {0}


def _raw_example(image: np.ndarray, trimap: np.ndarray, name: str) -> dict:
    return {
        contracts.IMAGE_KEY: _png(image),
        contracts.MASK_KEY: _png(trimap),
        contracts.NAME_KEY: name.encode(),
    }


def test_preprocessing_fn_in_tensorflow_transform():
    """The real tf.Transform run: outputs, shapes, IGNORE, and the train-set class counts."""
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    examples = []
    expected_counts = np.zeros(3)
    custom_config = preprocessing.custom_config(TransformConfig(92, 3), OXFORD_PETS)
    for i, (h, w) in enumerate([(60, 90), (90, 40), (70, 70)]):
        image, trimap = _pet_image(h, w, seed=i)
        examples.append(_raw_example(image, trimap, f"pet_{i}"))
        _, box = overlap_tile.image_to_tile(tf.constant(image), 52, 20)
        label = _canvas_label(tf.constant(trimap[..., None]), box, 52, OXFORD_PETS).numpy()
        expected_counts += [(label == c).sum() for c in range(3)]
    spec = {
        key: tf.io.FixedLenFeature([], tf.string)
        for key in (contracts.IMAGE_KEY, contracts.MASK_KEY, contracts.NAME_KEY)
    }
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))

    def fn(inputs):
        return preprocessing.preprocessing_fn(inputs, custom_config)

    with tempfile.TemporaryDirectory() as tmp:
        with tft_beam.Context(temp_dir=os.path.join(tmp, "tft"), force_tf_compat_v1=False):
            (transformed, _), _ = (examples, metadata) | tft_beam.AnalyzeAndTransformDataset(fn)
    assert len(transformed) == 3
    for row in transformed:
        box = tf.constant(row[contracts.CANVAS_BOX_KEY])
        region = row[contracts.IMAGE_REGION_KEY]
        tile = overlap_tile.tile_from_bytes(region, box, 52, 20, 3).numpy()
        assert tile.shape == (92, 92, 3)
        label = overlap_tile.label_from_bytes(row[contracts.LABEL_REGION_KEY], box, 52).numpy()
        top, left, h, w = row[contracts.CANVAS_BOX_KEY]
        assert tf.io.parse_tensor(region, tf.uint8).shape == (h, w, 3)  # only the image is stored
        assert (label[top : top + h, left : left + w] != contracts.IGNORE_LABEL).all()
        assert (label == contracts.IGNORE_LABEL).sum() == 52 * 52 - h * w
        np.testing.assert_allclose(row[contracts.CLASS_COUNTS_KEY], expected_counts)
