"""Checking and decoding one request image in the graph, safely.

A PNG of a few hundred KB can decode to 20000 x 20000 pixels, gigabytes for one request. So the size
is read from the image's own header first (PNG IHDR, the JPEG frame header, GIF's screen descriptor,
BMP's info header), checked against a pixel limit, and only then is the image decoded. Empty bytes,
bytes that are no image and a header too short fail with INVALID_ARGUMENT and a message that says
which; 16-bit PNG, RGBA, grayscale, palette and CMYK inputs decode to the model's channels."""

from __future__ import annotations

import tensorflow as tf

# First bytes of the formats tf.io.decode_image reads: JPEG, PNG, GIF, BMP.
MAGIC = {"JPEG": b"\xff\xd8\xff", "PNG": b"\x89PNG\r\n\x1a\n", "GIF": b"GIF8", "BMP": b"BM"}
HEADER_BYTES = 26  # enough for every size field read below


def _is(image_bytes: tf.Tensor, kind: str) -> tf.Tensor:
    magic = MAGIC[kind]
    return tf.equal(tf.strings.substr(image_bytes, 0, len(magic)), magic)


def _uint(image_bytes: tf.Tensor, offset: int, width: int, big_endian: bool) -> tf.Tensor:
    """An unsigned integer of `width` bytes at `offset` (int64)."""
    raw = tf.io.decode_raw(tf.strings.substr(image_bytes, offset, width), tf.uint8)
    raw = tf.cast(tf.ensure_shape(raw, [width]), tf.int64)
    order = range(width) if big_endian else range(width - 1, -1, -1)
    value = tf.constant(0, tf.int64)
    for i in order:
        value = value * 256 + raw[i]
    return value


def header_size(image_bytes: tf.Tensor) -> tf.Tensor:
    """int64 [2] (height, width) read from the header, without decoding the pixels."""

    def png() -> tf.Tensor:
        return tf.stack([_uint(image_bytes, 20, 4, True), _uint(image_bytes, 16, 4, True)])

    def jpeg() -> tf.Tensor:
        return tf.cast(tf.io.extract_jpeg_shape(image_bytes)[:2], tf.int64)

    def gif() -> tf.Tensor:
        return tf.stack([_uint(image_bytes, 8, 2, False), _uint(image_bytes, 6, 2, False)])

    def bmp() -> tf.Tensor:
        height = _uint(image_bytes, 22, 4, False)
        height = tf.where(height >= 2**31, 2**32 - height, height)  # negative: top-down rows
        return tf.stack([height, _uint(image_bytes, 18, 4, False)])

    return tf.case(
        [
            (_is(image_bytes, "PNG"), png),
            (_is(image_bytes, "JPEG"), jpeg),
            (_is(image_bytes, "GIF"), gif),
            (_is(image_bytes, "BMP"), bmp),
        ],
        default=lambda: tf.constant([-1, -1], tf.int64),
        exclusive=True,
    )


def checked_size(image_bytes: tf.Tensor, max_megapixels: float) -> tf.Tensor:
    """int64 [2] (height, width) of one encoded image, read from its header after the checks in
    the module docstring (INVALID_ARGUMENT naming the problem otherwise); nothing is decoded."""
    length = tf.strings.length(image_bytes)
    recognised = tf.reduce_any([_is(image_bytes, kind) for kind in MAGIC])
    checks = [
        tf.debugging.Assert(length > 0, ["image_bytes is empty"]),
        tf.debugging.Assert(
            recognised,
            ["image_bytes is not a JPEG, PNG, GIF or BMP image (first bytes unrecognised)"],
        ),
        tf.debugging.Assert(
            length >= HEADER_BYTES,
            [tf.strings.format("image_bytes is too short to be an image: {} bytes", [length])],
        ),
    ]
    with tf.control_dependencies(checks):
        size = header_size(image_bytes)
    limit = int(max_megapixels * 1e6)
    message = tf.strings.format(
        "image of {} x {} pixels is over the limit of {} pixels (max_image_megapixels)",
        [size[1], size[0], limit],
    )
    within = tf.debugging.Assert(
        (size[0] > 0) & (size[1] > 0) & (size[0] * size[1] <= limit), [message]
    )
    with tf.control_dependencies([within]):
        return tf.identity(size)


def checked_decode(image_bytes: tf.Tensor, channels: int, max_megapixels: float) -> tf.Tensor:
    """uint8 [H, W, channels] of one encoded image, decoded only once `checked_size` passed."""
    with tf.control_dependencies([checked_size(image_bytes, max_megapixels)]):
        image = tf.io.decode_image(image_bytes, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    return image
