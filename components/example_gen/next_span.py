"""The skeleton of a data set's next span: chosen images placed in the layout, the masks to draw.

    Oxford:  span-N/images/NAME.jpg, annotations/trimaps/ (empty), annotations/trainval.txt with
             the rows to complete (NAME ? ? ?: CLASS-ID SPECIES BREED-ID), annotations/test.txt
             with a header only (the span's test rows are the delivery's own)
    nnU-Net: span-N/dataset.json (the newest description, numTraining the count),
             imagesTr/CASE_0000<ending>, labelsTr/ (empty)
Beside them, `masks_to_draw.txt` lists each mask's path in the span, one per line. Until a mask
is drawn, its image is a skipped case with its reason in the ingest report, never lost.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
from dataclasses import dataclass

import tensorflow as tf
from PIL import Image

from components.example_gen import layouts, nnunet, oxford
from components.example_gen.files import join, read_in_root
from core.dataset import NNUNET_LAYOUT, DatasetSpec

MASKS_TO_DRAW = "masks_to_draw.txt"
PIL_FORMATS = {
    ".png": "PNG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
}  # fmt: skip  (every ending nnunet.FILE_ENDINGS allows)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Placed:
    source: str  # the unlabelled file it came from
    image: str  # where it lies in the span (relative)
    mask: str  # the mask to draw (relative)


def new_span_folder(data_root: str, out: str | None = None) -> str:
    """The folder the next span goes into: `out`, or data_root/span-N for the number after the
    newest span. A folder that exists is refused (a span is written whole, into a new folder), as
    is a data root without spans, whose data set a new span would stop being read."""
    if out is None:
        numbers = layouts.spans(data_root)
        if not numbers:
            first = join(data_root, "span-1")
            raise ValueError(
                f"{data_root} holds no span-N/ folders, so a new span would hide the data set in "
                f"it: move its content into {first} (docs/data.md) or give --out"
            )
        out = join(data_root, f"{layouts.SPAN_PREFIX}{numbers[-1] + 1}")
    if tf.io.gfile.exists(out):
        raise ValueError(f"{out} exists: the next span is written into a new folder only")
    return out


def case_names(sources: list[str]) -> list[str]:
    """A plain, unique case name per source file, from its own name: letters, digits, `_.-` only,
    so it is a file name in either layout and one word in an Oxford list row."""
    names: list[str] = []
    for source in sources:
        stem = posixpath.splitext(posixpath.basename(source))[0]
        base = _UNSAFE.sub("_", stem).strip("._") or "image"
        name, number = base, 2
        while name in names:
            name, number = f"{base}_{number}", number + 1
        names.append(name)
    return names


def _converted(data: bytes, spec: DatasetSpec, ending: str) -> bytes:
    """The image in the format its file ending names, with the data set's channel count."""
    image = Image.open(io.BytesIO(data))
    image = image.convert("L" if spec.num_channels == 1 else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=PIL_FORMATS[ending])
    return buffer.getvalue()


def _write(path: str, data: bytes | str) -> None:
    tf.io.gfile.makedirs(posixpath.dirname(path))
    with tf.io.gfile.GFile(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def _oxford(span: str, sources: list[str], names: list[str]) -> list[Placed]:
    placed = []
    for source, name in zip(sources, names, strict=True):
        with tf.io.gfile.GFile(source, "rb") as f:
            data = f.read()
        image = f"{oxford.IMAGES_DIR}/{name}.jpg"  # the reader decodes PNG, GIF, BMP bytes too
        _write(join(span, image), data)
        placed.append(Placed(source, image, f"{oxford.TRIMAPS_DIR}/{name}.png"))
    tf.io.gfile.makedirs(join(span, oxford.TRIMAPS_DIR))
    header = "# NAME CLASS-ID SPECIES BREED-ID: replace each ? as you draw the trimap\n"
    _write(join(span, oxford.TRAINVAL_LIST), header + "".join(f"{n} ? ? ?\n" for n in names))
    _write(
        join(span, oxford.TEST_LIST),
        "# NAME CLASS-ID SPECIES BREED-ID: the span's test images, annotated (at least one)\n",
    )
    return placed


def _nnunet(
    span: str, sources: list[str], names: list[str], spec: DatasetSpec, description: dict
) -> list[Placed]:
    ending = spec.file_ending
    placed = []
    for source, name in zip(sources, names, strict=True):
        with tf.io.gfile.GFile(source, "rb") as f:
            data = _converted(f.read(), spec, ending)
        image = f"{nnunet.IMAGES_TR}/{name}{nnunet.CHANNEL_SUFFIX}{ending}"
        _write(join(span, image), data)
        mask = f"{nnunet.LABELS_TR}/{name}{nnunet.label_ending(ending)}"
        placed.append(Placed(source, image, mask))
    tf.io.gfile.makedirs(join(span, nnunet.LABELS_TR))
    described = {**description, "numTraining": len(sources)}
    _write(join(span, nnunet.DESCRIPTION_FILE), json.dumps(described, indent=2) + "\n")
    return placed


def write_skeleton(
    spec: DatasetSpec, data_root: str, span: str, sources: list[str]
) -> list[Placed]:
    """Places `sources` (image files, any file system) in `span` (from `new_span_folder`) in the
    layout of the data set at `data_root`, described by `spec`, and lists the masks to draw."""
    names = case_names(sources)
    if spec.layout == NNUNET_LAYOUT:
        folder = layouts.span_folder(data_root)
        description = json.loads(read_in_root(folder, nnunet.DESCRIPTION_FILE))
        placed = _nnunet(span, sources, names, spec, description)
    else:
        placed = _oxford(span, sources, names)
    _write(join(span, MASKS_TO_DRAW), "".join(p.mask + "\n" for p in placed))
    return placed
