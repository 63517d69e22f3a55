"""The batch job's files: where a mask of an input goes, what makes an input unusable, and a row
of the manifest."""

from __future__ import annotations

import io
import json
import os
import warnings
from typing import Any

MASKS_DIR = "masks"
DEFAULT_MAX_FILE_MB = 64.0
DEFAULT_MAX_MEGAPIXELS = 40.0
MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"GIF8": "GIF", b"BM": "BMP"}


def as_pattern(argument: str) -> str:
    """A folder as the glob of every file below it; a glob or a file as it is."""
    import tensorflow as tf

    if not any(c in argument for c in "*?[") and tf.io.gfile.isdir(argument):
        return argument.rstrip("/") + "/**"
    return argument


def glob_base(pattern: str) -> str:
    """The folder part of a glob before its first wildcard (masks mirror the paths below it)."""
    cut = min((pattern.find(c) for c in "*?[" if c in pattern), default=len(pattern))
    return pattern[:cut].rsplit("/", 1)[0] + "/" if "/" in pattern[:cut] else ""


def mask_path(out_dir: str, image_path: str, base: str) -> str:
    relative = image_path[len(base) :] if base and image_path.startswith(base) else image_path
    relative = relative.lstrip("/").split("://", 1)[-1]
    return os.path.join(out_dir, MASKS_DIR, os.path.splitext(relative)[0] + ".png")


def check_image(data: bytes, max_megapixels: float) -> str | None:
    """Why the bytes cannot be segmented (empty, no image, too many pixels), or None."""
    from PIL import Image

    if not data:
        return "empty file"
    if not any(data.startswith(magic) for magic in MAGIC):
        return "not a JPEG, PNG, GIF or BMP image"
    try:
        with warnings.catch_warnings():  # the size is checked here, against our own limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = None
            width, height = Image.open(io.BytesIO(data)).size  # the header, not the pixels
    except Exception as error:  # Pillow raises many types for broken headers
        return f"unreadable or truncated image ({type(error).__name__})"
    if width * height > max_megapixels * 1e6:
        return f"{width} x {height} pixels is over the limit of {max_megapixels:g} megapixels"
    return None


def row(
    path: str, size, pixels, problem: str | None, confidence: float | None = None
) -> dict[str, Any]:
    return {
        "name": path,
        "size": size,
        "pixels_per_class": pixels,
        "confidence": confidence,
        "status": "ok" if problem is None else "error",
        "reason": problem,
    }


def write_jsonl(path: str, rows: list[dict[str, Any]]) -> None:
    """Rows as one line of JSON each (any file system)."""
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "w") as f:
        f.write("".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))


def read_manifest(out_dir: str, name: str = "manifest.jsonl") -> list[dict[str, Any]]:
    """The rows of a manifest written by the batch job or the annotation command."""
    import tensorflow as tf

    with tf.io.gfile.GFile(os.path.join(out_dir, name)) as f:
        return [json.loads(line) for line in f if line.strip()]
