"""Reading one Oxford-IIIT Pet example: list-file rows, image and trimap checks, re-encoding.

Pure Python (Pillow + numpy) so that every quirk of the real files can be unit-tested on tiny
files; the Beam executor calls `ingest_entry` once per listed name. The published data set has
PNG and GIF bytes named `.jpg`, corrupt JPEGs and images without trimaps; other copies have
grayscale or CMYK JPEGs and RGBA PNGs. Whatever decodes becomes 3-channel RGB; the rest is
skipped with a reason that names the problem and the file.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image

IMAGES_DIR = "images"
ANNOTATIONS_DIR = "annotations"
TRIMAPS_DIR = "annotations/trimaps"
TRAINVAL_LIST = "annotations/trainval.txt"
TEST_LIST = "annotations/test.txt"
TRIMAP_VALUES = frozenset({1, 2, 3})

TRAIN, EVAL, TEST = "train", "eval", "test"
SPLITS = (TRAIN, EVAL, TEST)

ReadFn = Callable[[str], "bytes | None"]


@dataclass(frozen=True)
class ListEntry:
    """One row of an Oxford list file: NAME CLASS-ID SPECIES BREED-ID."""

    name: str
    class_id: int
    species: int
    breed_id: int


@dataclass(frozen=True)
class Ingested:
    """A usable example. image: JPEG as found, or PNG re-encoded to RGB; mask: 8-bit PNG."""

    name: str
    image: bytes
    mask: bytes
    height: int
    width: int
    species: int
    breed_id: int
    reencoded: str | None = None  # why the image bytes were re-encoded, None if kept as found


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


class MalformedLine(ValueError):
    """A list-file row that is not NAME CLASS-ID SPECIES BREED-ID; `name` is its first word."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def parse_list_line(line: str) -> ListEntry | None:
    """A list-file row as a ListEntry; None for '#' header lines and blank lines."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    parts = text.split()
    if len(parts) != 4:
        raise MalformedLine(parts[0], f"malformed list line (expected 4 columns): {text!r}")
    try:
        class_id, species, breed_id = (int(p) for p in parts[1:])
    except ValueError:
        raise MalformedLine(parts[0], f"malformed list line (non-integer ids): {text!r}") from None
    return ListEntry(parts[0], class_id, species, breed_id)


def eval_bucket(name: str) -> int:
    """A stable 0..99 bucket of a name (sha256, so it is the same on every run and machine)."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16) % 100


def trainval_split(name: str, eval_percent: int) -> str:
    """`eval` for about eval_percent % of trainval names, `train` for the rest; fixed per name."""
    return EVAL if eval_bucket(name) < eval_percent else TRAIN


# --- file access (local paths directly; other schemes through TensorFlow's file systems) ----------


def _is_remote(path: str) -> bool:
    return "://" in path


def join(root: str, relative: str) -> str:
    return posixpath.join(root, relative) if _is_remote(root) else os.path.join(root, relative)


def read_bytes(path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    if not _is_remote(path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError):
            return None
    import tensorflow as tf

    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            return f.read()
    except tf.errors.NotFoundError:
        return None


def _isdir(path: str) -> bool:
    if not _is_remote(path):
        return os.path.isdir(path)
    import tensorflow as tf

    return tf.io.gfile.isdir(path)


def _first_entry_line(path: str) -> str | None:
    """The first row that is not a header or blank (list files are small: read whole)."""
    data = read_bytes(path)
    if data is None:
        raise FileNotFoundError(path)
    for line in data.decode("utf-8", errors="replace").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line
    return None


def check_layout(root: str, list_files: Iterable[str] = (TRAINVAL_LIST, TEST_LIST)) -> None:
    """Fails with every missing piece named when `root` is not an Oxford-IIIT Pet folder.

    Without this a wrong --data-root would give an empty data set (or one made only of skips).
    """
    if not _isdir(root):
        raise ValueError(f"data root {root} does not exist or is not a directory")
    expected = (
        "expected images/, annotations/trimaps/, annotations/trainval.txt, annotations/test.txt"
    )
    missing = [d for d in (ANNOTATIONS_DIR, IMAGES_DIR, TRIMAPS_DIR) if not _isdir(join(root, d))]
    present_lists = []
    for list_file in list_files:
        try:
            present_lists.append((list_file, _first_entry_line(join(root, list_file))))
        except OSError:
            missing.append(list_file)
    if missing:
        paths = ", ".join(join(root, m) for m in missing)
        raise ValueError(f"not an Oxford-IIIT Pet folder: missing {paths} ({expected})")
    empty = [join(root, name) for name, first in present_lists if first is None]
    if empty:
        raise ValueError(f"list file(s) without any example rows: {', '.join(empty)}")


# --- images --------------------------------------------------------------------------------------


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


def decode_trimap(data: bytes, path: str) -> tuple[np.ndarray, bytes] | str:
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


def ingest_entry(root: str, entry: ListEntry, read: ReadFn = read_bytes) -> Ingested | Skipped:
    """Decodes and checks the image and trimap of one listed name."""
    image_rel = f"{IMAGES_DIR}/{entry.name}.jpg"
    trimap_rel = f"{TRIMAPS_DIR}/{entry.name}.png"
    image_data = read(join(root, image_rel))
    if image_data is None:
        return Skipped(entry.name, f"image missing: {image_rel}")
    if not image_data:
        return Skipped(entry.name, f"image file is empty: {image_rel}")
    trimap_data = read(join(root, trimap_rel))
    if trimap_data is None:
        return Skipped(entry.name, f"trimap missing: {trimap_rel}")
    image = decode_image(image_data, image_rel)
    if isinstance(image, str):
        return Skipped(entry.name, image)
    image_bytes, height, width, note = image
    trimap = decode_trimap(trimap_data, trimap_rel)
    if isinstance(trimap, str):
        return Skipped(entry.name, trimap)
    values, mask_bytes = trimap
    if values.shape != (height, width):
        return Skipped(
            entry.name,
            f"trimap size {values.shape[1]}x{values.shape[0]} differs from image size "
            f"{width}x{height}: {trimap_rel}",
        )
    found = set(np.unique(values).tolist())
    if not found <= TRIMAP_VALUES:
        bad = ", ".join(str(v) for v in sorted(found - TRIMAP_VALUES))
        return Skipped(entry.name, f"trimap values outside {{1,2,3}} (found {bad}): {trimap_rel}")
    return Ingested(
        entry.name, image_bytes, mask_bytes, height, width, entry.species, entry.class_id, note
    )
