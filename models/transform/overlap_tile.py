"""Overlap-tile ops (paper, Fig. 2), one example at a time, in plain TensorFlow.

The image is resized, keeping its aspect ratio, to fit the O x O output canvas, centred, and
everything around it (the rest of the canvas and the T x T tile's margin) is filled by mirroring the
image about its own borders, as the paper extrapolates missing context. The mask gets the same
resize onto the same canvas (see `mask_to_region`: a thin outline class survives shrinking); canvas
pixels outside the image are IGNORE. Transform, the serving signatures, the input pipeline and the
prediction CLI all call these functions: what the model is trained on is what it is served with.
"""

from __future__ import annotations

import tensorflow as tf

from core import contracts
from core.dataset import DatasetSpec

_OUTLINE_SHARE = 1e-3  # above float round-off: any outline pixel in a footprint makes it outline


def decode_image(image_bytes: tf.Tensor, channels: int = 3) -> tf.Tensor:
    """Decodes JPEG/PNG/GIF/BMP bytes to uint8 [H, W, channels] (first frame of a GIF)."""
    image = tf.io.decode_image(image_bytes, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
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


def image_to_region(image: tf.Tensor, canvas: int) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 [H, W, C] -> (the image resized to its place on the canvas, uint8 [h, w, C]; the
    canvas box [4] int32). This is all Transform stores of the image: the canvas fill and the
    margin are mirror images of it, made on the fly (`mirror_tile`)."""
    shape = tf.shape(image)
    box = canvas_box(shape[0], shape[1], canvas)
    resized = tf.image.resize(image, box[2:4], method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8), box


def image_to_tile(image: tf.Tensor, canvas: int, margin: int) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 [H, W, C] -> (uint8 tile [T, T, C], canvas box [4] int32)."""
    region, box = image_to_region(image, canvas)
    tile = mirror_tile(region, box, canvas, margin)
    tile.set_shape([canvas + 2 * margin, canvas + 2 * margin, image.shape[-1]])
    return tile, box


def mask_to_region(mask: tf.Tensor, box: tf.Tensor, spec: DatasetSpec) -> tf.Tensor:
    """Mask uint8 [H, W, 1] in the data set's values -> uint8 [h, w] class indices on the image's
    canvas box, IGNORE where the mask says `ignore`.

    Each canvas pixel covers a footprint of the image (the area resize, with the image's
    half-pixel-centre convention, so mask and image stay aligned) and takes the majority class of
    its footprint, or IGNORE when most of it is unlabelled. A data set's outline class (Oxford's
    1-3 px border band) wins any footprint that holds it: nearest neighbour, or the majority,
    would sample the band shrunk 2-4x at random, leaving a dotted outline no model can
    reproduce; this keeps the band closed at every scale. Undeclared values cannot reach here
    (the ExampleGen rejects them).
    """
    table = tf.constant(spec.value_to_class(), tf.int32)
    classes = tf.gather(table, tf.cast(mask[..., 0], tf.int32))
    one_hot = tf.one_hot(classes, spec.num_classes)  # IGNORE -> all zeros
    fractions = tf.image.resize(one_hot, box[2:4], method="area")  # class share of each footprint
    labelled = tf.reduce_sum(fractions, axis=-1)
    outline = spec.outline_index
    if outline is None:
        majority = tf.argmax(fractions, axis=-1, output_type=tf.int32)
    else:
        others = tf.one_hot(outline, spec.num_classes, on_value=-1.0, off_value=0.0)
        majority = tf.where(
            fractions[..., outline] > _OUTLINE_SHARE,
            tf.constant(outline, tf.int32),
            tf.argmax(fractions + others, axis=-1, output_type=tf.int32),
        )
    label = tf.where(labelled >= 0.5, majority, contracts.IGNORE_LABEL)
    return tf.cast(label, tf.uint8)


def region_to_label(region: tf.Tensor, box: tf.Tensor, canvas: int) -> tf.Tensor:
    """uint8 [h, w] classes on the canvas box -> int64 [O, O], IGNORE off the image."""
    box = tf.cast(box, tf.int32)
    label = tf.pad(
        tf.cast(region, tf.int64),
        [[box[0], canvas - box[0] - box[2]], [box[1], canvas - box[1] - box[3]]],
        constant_values=contracts.IGNORE_LABEL,
    )
    label.set_shape([canvas, canvas])
    return label


def serialize(region: tf.Tensor) -> tf.Tensor:
    """A uint8 region as bytes (1 byte per value, its shape alongside)."""
    return tf.io.serialize_tensor(region)


def tile_from_bytes(
    region_bytes: tf.Tensor, box: tf.Tensor, canvas: int, margin: int, channels: int
) -> tf.Tensor:
    """The T x T tile the network reads, from the image region Transform stored."""
    region = tf.io.parse_tensor(region_bytes, tf.uint8)
    region.set_shape([None, None, channels])
    tile = mirror_tile(region, tf.cast(box, tf.int32), canvas, margin)
    tile.set_shape([canvas + 2 * margin, canvas + 2 * margin, channels])
    return tile


def label_from_bytes(label_bytes: tf.Tensor, box: tf.Tensor, canvas: int) -> tf.Tensor:
    """The O x O label (int64) from the label region Transform stored."""
    region = tf.io.parse_tensor(label_bytes, tf.uint8)
    region.set_shape([None, None])
    return region_to_label(region, box, canvas)
