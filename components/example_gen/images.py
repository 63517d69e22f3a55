"""Decoding and checking one image and one label mask (Pillow + NumPy, unit-testable on tiny files).

Whatever decodes to the data set's channels is kept or losslessly re-encoded as PNG (with a note
saying why); the rest is a reason, naming the problem and the file, for the ingest report.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def _tf_decodes_rgb_jpeg(data: bytes) -> tuple[int, int] | None:
    """(height, width) when TensorFlow, the consumer, decodes the bytes as a JPEG; else None."""
    import tensorflow as tf

    try:
        shape = tf.io.extract_jpeg_shape(data).numpy()
        tf.io.decode_jpeg(data, channels=3)  # the full decode: catches truncated scans
    except tf.errors.OpError:
        return None
    return int(shape[0]), int(shape[1])


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB from any Pillow mode: drops alpha, scales 16/32-bit grays, maps palettes and CMYK."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")
    return img.convert("RGB")


def _png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def decode_image(data: bytes, path: str) -> tuple[bytes, int, int, str | None] | str:
    """(image bytes, height, width, re-encode note) or the reason the image cannot be used.

    A JPEG that TensorFlow decodes as 3-channel keeps its bytes; everything else that Pillow can
    decode fully is converted to RGB and re-encoded losslessly as PNG.
    """
    try:
        img = _open(data)
        fmt, mode = img.format, img.mode
    except Exception as e:  # Pillow raises many types for junk bytes
        return f"image unreadable ({type(e).__name__}): {path}"
    if fmt == "JPEG" and mode == "RGB":
        shape = _tf_decodes_rgb_jpeg(data)
        if shape is not None:
            return data, shape[0], shape[1], None
    try:
        img.load()  # the full decode: raises on truncated or corrupt data
        rgb = _to_rgb(img)
    except Exception as e:
        return f"image unreadable or truncated ({type(e).__name__}: {e}): {path}"
    note = f"{fmt or 'unknown'} {mode} re-encoded as RGB PNG"
    return _png(rgb), rgb.height, rgb.width, note


def decode_mask(data: bytes, path: str) -> tuple[np.ndarray, bytes] | str:
    """(values H x W, 8-bit grayscale PNG bytes) or the reason the trimap cannot be used.

    The original bytes are kept when they already are an 8-bit grayscale PNG; palette, RGB or
    16-bit trimaps are rewritten so that decode_png(channels=1) returns the trimap values.
    """
    try:
        img = _open(data)
        img.load()
    except Exception as e:
        return f"trimap unreadable ({type(e).__name__}): {path}"
    if img.mode in ("L", "P", "I", "I;16", "I;16B", "I;16L"):
        values = np.asarray(img)  # for "P": the palette indices, which are the trimap values
    elif img.mode in ("LA", "PA"):
        values = np.asarray(img)[..., 0]
    elif img.mode in ("RGB", "RGBA"):
        rgb = np.asarray(img)[..., :3]
        if not (rgb == rgb[..., :1]).all():
            return f"trimap is colour, not one channel ({img.mode}): {path}"
        values = rgb[..., 0]
    else:
        return f"trimap has unsupported mode {img.mode}: {path}"
    if img.format == "PNG" and img.mode == "L":
        return values, data
    if values.min() < 0 or values.max() > 255:
        return f"trimap values outside 0..255: {path}"
    return values, _png(Image.fromarray(values.astype(np.uint8), "L"))
