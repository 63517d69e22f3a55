"""Overlap-tile ops (paper, Fig. 2), one example at a time, in plain TensorFlow.

The image is resized, keeping its aspect ratio, to fit the O x O output canvas, centred, and
everything around it (the rest of the canvas and the T x T tile's margin) is filled by mirroring the
image about its own borders, as the paper extrapolates missing context. The mask gets the same
resize onto the same canvas (see `trimap_to_label`: the border class survives shrinking); canvas
pixels outside the image are IGNORE. Transform, the serving signatures, the input pipeline and the
prediction CLI all call these functions: what the model is trained on is what it is served with.
"""

from __future__ import annotations

import tensorflow as tf

from models import contracts

_BORDER_SHARE = 1e-3  # above float round-off: any border pixel in a footprint makes it border


def decode_rgb(image_bytes: tf.Tensor) -> tf.Tensor:
    """Decodes JPEG/PNG/GIF/BMP bytes to uint8 [H, W, 3] (first frame of a GIF)."""
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def canvas_box(height: tf.Tensor, width: tf.Tensor, canvas: int) -> tf.Tensor:
    """Where an H x W image lands on the canvas once resized to fit: [top, left, h, w] (int32).

    The image keeps its aspect ratio, touches the canvas on its longer side and is centred.
    """
    height = tf.cast(height, tf.float64)
    width = tf.cast(width, tf.float64)
    scale = tf.minimum(canvas / height, canvas / width)
    new_h = tf.clip_by_value(tf.cast(tf.round(height * scale), tf.int32), 1, canvas)
    new_w = tf.clip_by_value(tf.cast(tf.round(width * scale), tf.int32), 1, canvas)
    return tf.stack([(canvas - new_h) // 2, (canvas - new_w) // 2, new_h, new_w])


def reflect_indices(positions: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """Maps any positions (integer or float) into [0, size - 1] by mirroring about the borders.

    Same convention as numpy.pad(mode="reflect") (the edge pixel is not repeated), but without its
    limit of padding less than the size: a thin image still fills a wide canvas. The elastic
    deformation samples with the same rule at float positions.
    """
    last = tf.cast(size, positions.dtype) - 1
    period = tf.maximum(2 * last, 1)
    folded = tf.math.floormod(positions, period)
    folded = tf.where(folded > last, period - folded, folded)
    return tf.minimum(folded, last)  # size 1: everything maps to 0


def mirror_tile(resized: tf.Tensor, box: tf.Tensor, canvas: int, margin: int) -> tf.Tensor:
    """The T x T tile (T = canvas + 2 margin) around an image placed at `box` on the canvas.

    Every tile pixel outside the image takes the value of its mirror image inside, so a single
    gather builds canvas fill and margin in one step.
    """
    tile = canvas + 2 * margin
    coords = tf.range(tile, dtype=tf.int32) - margin
    rows = reflect_indices(coords - box[0], box[2])
    cols = reflect_indices(coords - box[1], box[3])
    return tf.gather(tf.gather(resized, rows, axis=0), cols, axis=1)


def image_to_tile(image: tf.Tensor, canvas: int, margin: int) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 [H, W, 3] -> (uint8 tile [T, T, 3], canvas box [4] int32)."""
    shape = tf.shape(image)
    box = canvas_box(shape[0], shape[1], canvas)
    resized = tf.image.resize(image, box[2:4], method="bilinear", antialias=True)
    resized = tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)
    tile = mirror_tile(resized, box, canvas, margin)
    tile.set_shape([canvas + 2 * margin, canvas + 2 * margin, 3])
    return tile, box


def trimap_to_label(trimap: tf.Tensor, box: tf.Tensor, canvas: int) -> tf.Tensor:
    """Trimap uint8 [H, W, 1] (1/2/3) -> int64 [O, O] classes 0/1/2 and IGNORE off the image.

    Each canvas pixel covers a footprint of the image (the area resize, with the image's
    half-pixel-centre convention, so mask and image stay aligned). It is the border class when its
    footprint holds any border pixel, otherwise the majority of pet and background. Nearest
    neighbour would sample a 1-3 px border band shrunk 2-4x at random, leaving a dotted outline no
    model can reproduce; this keeps the band closed at every scale. Values outside {1, 2, 3}
    cannot reach here (ExampleGen rejects them).
    """
    border = contracts.NUM_CLASSES - 1
    one_hot = tf.one_hot(tf.cast(trimap[..., 0], tf.int32) - 1, contracts.NUM_CLASSES)
    fractions = tf.image.resize(one_hot, box[2:4], method="area")  # class share of each footprint
    classes = tf.where(
        fractions[..., border] > _BORDER_SHARE,
        tf.constant(border, tf.int64),
        tf.argmax(fractions[..., :border], axis=-1),  # TRIMAP_TO_CLASS: 1 -> 0, 2 -> 1
    )
    label = tf.pad(
        classes,
        [[box[0], canvas - box[0] - box[2]], [box[1], canvas - box[1] - box[3]]],
        constant_values=contracts.IGNORE_LABEL,
    )
    label.set_shape([canvas, canvas])
    return label


def parse_tile(tile_bytes: tf.Tensor, tile_size: int) -> tf.Tensor:
    """Inverse of the Transform's tile serialisation: bytes -> uint8 [T, T, 3]."""
    tile = tf.io.parse_tensor(tile_bytes, tf.uint8)
    tile.set_shape([tile_size, tile_size, 3])
    return tile
