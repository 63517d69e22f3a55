"""Overlap-tile inference at the image's own resolution, in the graph (paper, Fig. 2).

The image is mirror-extended, cut into T x T tiles whose O x O outputs cover it edge to edge, and
the tiles go through the network in batches of a fixed size, so memory is bounded by the batch,
not by the image: only each tile's most probable class (one byte per pixel) is kept and stitched,
beside the per-class sums the answer's confidence needs (models/serving/confidence.py).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from models.serving import arrays, confidence
from models.transform.overlap_tile import reflect_indices


def tiled_classes(
    image: tf.Tensor,
    tile: int,
    output: int,
    batch_size: int,
    probabilities_of: Callable[[tf.Tensor], tf.Tensor],
    num_classes: int,
) -> tuple[tf.Tensor, tf.Tensor]:
    """(int32 [H, W] class per pixel of image [H, W, C] (uint8), by overlap-tile; float32 [3, K]
    class sums over the image's pixels, `confidence.class_sums`).

    probabilities_of: uint8 tiles [n, T, T, C] -> [n, O, O, K] (n <= batch_size).
    """
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    margin = (tile - output) // 2
    rows = (height + output - 1) // output
    cols = (width + output - 1) // output
    ys = reflect_indices(tf.range(rows * output + 2 * margin) - margin, height)
    xs = reflect_indices(tf.range(cols * output + 2 * margin) - margin, width)
    extended = tf.gather(tf.gather(image, ys, axis=0), xs, axis=1)
    count = rows * cols

    def cut(k: tf.Tensor) -> tf.Tensor:
        top, left = (k // cols) * output, (k % cols) * output
        return tf.slice(extended, [top, left, 0], [tile, tile, -1])

    def inside(indices: tf.Tensor) -> tf.Tensor:
        """bool [n, O, O]: the output pixels of tiles `indices` that lie on the image, not on
        its mirror."""
        on_rows = tf.range(output)[None, :] < (height - (indices // cols) * output)[:, None]
        on_cols = tf.range(output)[None, :] < (width - (indices % cols) * output)[:, None]
        return on_rows[:, :, None] & on_cols[:, None, :]

    def body(
        start: tf.Tensor, done: tf.TensorArray, sums: tf.Tensor
    ) -> tuple[tf.Tensor, tf.TensorArray, tf.Tensor]:
        indices = tf.range(start, tf.minimum(start + batch_size, count))
        tiles = tf.map_fn(
            cut, indices, fn_output_signature=tf.TensorSpec([tile, tile, None], image.dtype)
        )
        probabilities = probabilities_of(tiles)
        predicted, largest = arrays.largest(probabilities)  # argmax's classes, first on ties
        pixels = inside(indices)
        sums += tf.reduce_sum(
            confidence.class_sums(probabilities, predicted, largest, pixels), axis=0
        )
        return start + batch_size, done.scatter(indices, tf.cast(predicted, tf.uint8)), sums

    _, done, sums = tf.while_loop(
        lambda start, *_: start < count,
        body,
        (
            tf.constant(0),
            tf.TensorArray(tf.uint8, size=count, element_shape=[output, output]),
            tf.zeros([3, num_classes], tf.float32),
        ),
    )
    grid = tf.reshape(done.stack(), [rows, cols, output, output])
    stitched = tf.reshape(tf.transpose(grid, [0, 2, 1, 3]), [rows * output, cols * output])
    return tf.cast(stitched[:height, :width], tf.int32), sums
