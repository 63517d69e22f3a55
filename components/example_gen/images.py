"""Decoding and checking one example's image and mask (Pillow + NumPy, unit-testable on tiny files).

An image that decodes to the data set's channels is kept, or losslessly re-encoded as PNG where
TensorFlow could not read it as it is (TIFF, 16-bit, palette...), with a note saying why. In strict
mode (nnU-Net data sets) an image with other channels than declared is skipped, never coerced; the
Oxford reader converts what it can to RGB, as the real files need. Every failure is a reason that
names the problem and the file, for the ingest report.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from components.example_gen.files import UnreadableFile, read_in_root
from core.contracts import OBJECT_SIZE_BUCKETS
from core.dataset import DatasetSpec

# Channels of each Pillow mode; a palette image counts as colour.
MODE_CHANNELS = {
    "1": 1, "L": 1, "I": 1, "I;16": 1, "I;16B": 1, "I;16L": 1, "F": 1, "LA": 2, "La": 2,
    "P": 3, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3, "PA": 4, "RGBA": 4, "RGBa": 4, "RGBX": 4,
    "CMYK": 4,
}  # fmt: skip
GRAY_MODES = ("I;16", "I;16B", "I;16L", "I", "F")


@dataclass(frozen=True)
class Ingested:
    """A usable example. image: the bytes as found or a lossless PNG; mask: 8-bit PNG."""

    name: str
    image: bytes
    mask: bytes
    height: int
    width: int
    species: int | None = None  # Oxford only
    breed_id: int | None = None  # Oxford only
    reencoded: str | None = None  # why the image bytes were re-encoded, None if kept as found
    object_size: str | None = None  # OBJECT_SIZE_BUCKETS name: how much of the image is objects
    mean_intensity: float | None = None  # the image's mean pixel value (0..255)
    class_shares: tuple[float, ...] = ()  # each class's share of the labelled pixels


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def _tf_decodes_jpeg(data: bytes, channels: int) -> tuple[int, int] | None:
    """(height, width) when TensorFlow, the consumer, decodes the bytes as a JPEG; else None."""
    import tensorflow as tf

    try:
        shape = tf.io.extract_jpeg_shape(data).numpy()
        tf.io.decode_jpeg(data, channels=channels)  # the full decode: catches truncated scans
    except tf.errors.OpError:
        return None
    return int(shape[0]), int(shape[1])


def _to_gray(img: Image.Image) -> Image.Image:
    """8-bit gray from a gray mode: 16/32-bit values scaled to 0..255."""
    if img.mode in GRAY_MODES:
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L")
    return img.convert("L")


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB from any Pillow mode: drops alpha, scales 16/32-bit grays, maps palettes and CMYK."""
    if img.mode in GRAY_MODES:
        return _to_gray(img).convert("RGB")
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")
    return img.convert("RGB")


def channel_count(data: bytes) -> int | None:
    """Channels of an encoded image from its header (None when it is not an image)."""
    try:
        return MODE_CHANNELS.get(_open(data).mode)
    except Exception:  # Pillow raises many types for junk bytes
        return None


def _png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


class Unusable(ValueError):
    """A file that cannot become part of an example; the message is the ingest report's reason."""


@dataclass(frozen=True)
class DecodedImage:
    """An image as the examples hold it: its bytes (as found, or a lossless PNG) and size."""

    data: bytes
    height: int
    width: int
    reencoded: str | None  # why the bytes were re-encoded; None when kept as found
    mean: float = 0.0  # mean pixel value over all channels (0..255)


@dataclass(frozen=True)
class DecodedMask:
    values: np.ndarray  # H x W label values
    png: bytes  # 8-bit grayscale PNG of them


def decode_image(data: bytes, path: str, channels: int = 3, strict: bool = False) -> DecodedImage:
    """The image as the examples hold it; Unusable with the reason when it cannot be used.

    A JPEG that TensorFlow decodes with `channels`, and an 8-bit PNG named .png, keep their bytes;
    everything else that Pillow can decode fully (a PNG named .jpg, TIFF, 16-bit, palette...) is
    converted (RGB or 8-bit gray) and re-encoded losslessly as PNG. strict:
    an image whose own channels differ from `channels` is refused instead of converted.
    """
    try:
        img = _open(data)
        fmt, mode = img.format, img.mode
    except Exception as e:  # Pillow raises many types for junk bytes
        raise Unusable(f"image unreadable ({type(e).__name__}): {path}") from None
    found = MODE_CHANNELS.get(mode)
    if strict and found != channels:
        raise Unusable(
            f"image has {found or 'unknown'} channel(s) ({mode}) but the data set declares "
            f"{channels} (dataset.json channel_names): {path}"
        )
    if fmt == "JPEG" and mode == ("RGB" if channels == 3 else "L"):
        shape = _tf_decodes_jpeg(data, channels)
        if shape is not None:
            return DecodedImage(data, shape[0], shape[1], None, _mean(img))
    if fmt == "PNG" and path.lower().endswith(".png") and mode == ("RGB" if channels == 3 else "L"):
        try:  # a PNG named as one, in the declared channels: kept once it decodes fully
            img.load()
        except Exception as e:
            raise Unusable(
                f"image unreadable or truncated ({type(e).__name__}: {e}): {path}"
            ) from None
        return DecodedImage(data, img.height, img.width, None, _mean(img))
    try:
        img.load()  # the full decode: raises on truncated or corrupt data
        converted = _to_rgb(img) if channels == 3 else _to_gray(img)
    except Exception as e:
        raise Unusable(f"image unreadable or truncated ({type(e).__name__}: {e}): {path}") from None
    target = "RGB" if channels == 3 else "8-bit gray"
    note = f"{fmt or 'unknown'} {mode} re-encoded as {target} PNG"
    return DecodedImage(_png(converted), converted.height, converted.width, note, _mean(converted))


def _mean(img: Image.Image) -> float:
    """The mean pixel value of a decoded 8-bit gray or RGB image (PIL's own, no copy)."""
    from PIL import ImageStat

    return float(np.mean(ImageStat.Stat(img).mean))


def decode_mask(data: bytes, path: str, noun: str = "trimap") -> DecodedMask:
    """The mask's values and 8-bit grayscale PNG; Unusable with the reason when it cannot be used.

    The original bytes are kept when they already are an 8-bit grayscale PNG; palette (VOC-style:
    the indices are the values), RGB-gray or 16-bit masks are rewritten so that
    decode_png(channels=1) returns the mask values. `noun` names the mask in reasons.
    """
    try:
        img = _open(data)
        img.load()
    except Exception as e:
        raise Unusable(f"{noun} unreadable ({type(e).__name__}): {path}") from None
    if img.mode in ("L", "P", "I", "I;16", "I;16B", "I;16L"):
        values = np.asarray(img)  # for "P": the palette indices, which are the mask values
    elif img.mode in ("LA", "PA"):
        values = np.asarray(img)[..., 0]
    elif img.mode in ("RGB", "RGBA"):
        rgb = np.asarray(img)[..., :3]
        if not (rgb == rgb[..., :1]).all():
            raise Unusable(f"{noun} is colour, not one channel ({img.mode}): {path}")
        values = rgb[..., 0]
    else:
        raise Unusable(f"{noun} has unsupported mode {img.mode}: {path}")
    if img.format == "PNG" and img.mode == "L":
        return DecodedMask(values, data)
    if values.min() < 0 or values.max() > 255:
        raise Unusable(f"{noun} values outside 0..255: {path}")
    return DecodedMask(values, _png(Image.fromarray(values.astype(np.uint8), "L")))


def _read_pair(root: str, image_rel: str, mask_rel: str, noun: str, max_file_mb: float):
    try:
        image_data = read_in_root(root, image_rel, max_file_mb)
        if image_data is None:
            raise Unusable(f"image missing: {image_rel}")
        if not image_data:
            raise Unusable(f"image file is empty: {image_rel}")
        mask_data = read_in_root(root, mask_rel, max_file_mb)
    except UnreadableFile as error:
        raise Unusable(f"unreadable: {error}") from None
    if mask_data is None:
        raise Unusable(f"{noun} missing: {mask_rel}")
    return image_data, mask_data


def ingest_pair(
    root: str,
    spec: DatasetSpec,
    name: str,
    image_rel: str,
    mask_rel: str,
    noun: str,
    strict: bool,
    max_file_mb: float,
) -> Ingested | Skipped:
    """Reads, decodes and checks one image and its mask against the data set's description."""
    try:
        image_data, mask_data = _read_pair(root, image_rel, mask_rel, noun, max_file_mb)
        image = decode_image(image_data, image_rel, spec.num_channels, strict)
        mask = decode_mask(mask_data, mask_rel, noun)
    except Unusable as reason:
        return Skipped(name, str(reason))
    if mask.values.shape != (image.height, image.width):
        return Skipped(
            name,
            f"{noun} size {mask.values.shape[1]}x{mask.values.shape[0]} differs from image size "
            f"{image.width}x{image.height}: {mask_rel}",
        )
    found = set(np.unique(mask.values).tolist())
    declared = spec.declared_values
    if not found <= declared:
        bad = ", ".join(str(v) for v in sorted(found - declared))
        allowed = ",".join(str(v) for v in sorted(declared))
        return Skipped(name, f"{noun} values outside {{{allowed}}} (found {bad}): {mask_rel}")
    return Ingested(
        name,
        image.data,
        mask.png,
        image.height,
        image.width,
        reencoded=image.reencoded,
        object_size=object_size(mask.values, spec),
        mean_intensity=image.mean,
        class_shares=class_shares(mask.values, spec),
    )


def class_shares(values: np.ndarray, spec: DatasetSpec) -> tuple[float, ...]:
    """Each class's share of the labelled (not `ignore`) pixels, in class-index order."""
    counts = np.array([np.sum(values == v) for v in spec.class_values], np.float64)
    return tuple((counts / max(counts.sum(), 1.0)).tolist())


def object_size(values: np.ndarray, spec: DatasetSpec) -> str:
    """The bucket of the share of labelled pixels that are not background (slices by size)."""
    labelled = (
        values != spec.ignore_value if spec.ignore_value is not None else np.ones_like(values, bool)
    )
    background = spec.class_values[spec.background_class]
    share = float(np.sum(labelled & (values != background))) / max(int(labelled.sum()), 1)
    return next(name for bound, name in OBJECT_SIZE_BUCKETS if share < bound or bound >= 1.0)
