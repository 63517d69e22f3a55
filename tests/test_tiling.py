"""The in-graph overlap-tile covers the image edge to edge and stitches every tile in its place."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models.serving import tiling


@pytest.mark.parametrize("height,width,batch", [(50, 70, 1), (130, 52, 3), (7, 200, 4)])
def test_each_output_pixel_comes_from_its_own_tile_position(height, width, batch):
    tile, output, classes = 92, 52, 5
    margin = (tile - output) // 2
    image = np.random.default_rng(height).integers(0, 250, (height, width, 3), dtype=np.uint8)

    def probabilities_of(tiles: tf.Tensor) -> tf.Tensor:
        # a "network" whose class is the centre pixel's first channel modulo `classes`
        centre = tiles[:, margin : margin + output, margin : margin + output, 0]
        return tf.one_hot(tf.cast(centre, tf.int32) % classes, classes)

    calls = []

    def counted(tiles: tf.Tensor) -> tf.Tensor:
        calls.append(tiles.shape[0])
        return probabilities_of(tiles)

    stitched, sums = tiling.tiled_classes(tf.constant(image), tile, output, batch, counted, classes)
    np.testing.assert_array_equal(stitched.numpy(), image[..., 0] % classes)
    # one-hot answers: each class's intersection, predicted and expected pixels are its count on
    # the image itself, the mirrored parts of the edge tiles left out
    counts = np.bincount((image[..., 0] % classes).ravel(), minlength=classes)
    np.testing.assert_allclose(sums.numpy(), np.stack([counts] * 3))
    count = -(-height // output) * -(-width // output)
    assert sum(calls) == count and max(calls) <= batch  # fixed-size batches bound the memory
