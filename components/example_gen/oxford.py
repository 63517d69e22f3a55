"""The Oxford-IIIT Pet layout: its classes, list-file rows, the folder check, reading one example.

    images/NAME.jpg, annotations/trimaps/NAME.png (1 pet, 2 background, 3 border),
    annotations/trainval.txt and test.txt: NAME CLASS-ID SPECIES BREED-ID

The published data set has PNG and GIF bytes named `.jpg`, corrupt JPEGs and images without
trimaps; other copies have grayscale or CMYK JPEGs and RGBA PNGs. Whatever decodes becomes
3-channel RGB; the rest is skipped with a reason that names the problem and the file. The Oxford
class constants live here and with the synthetic pets only: nothing downstream assumes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from components.example_gen.files import is_dir, join, read_in_root
from components.example_gen.images import Ingested, Skipped, ingest_pair
from components.example_gen.layout import Layout, MalformedRow, Row
from core import contracts
from core.contracts import EVAL, TEST, TRAIN
from core.dataset import OXFORD_LAYOUT, DatasetSpec

IMAGES_DIR = "images"
ANNOTATIONS_DIR = "annotations"
TRIMAPS_DIR = "annotations/trimaps"
TRAINVAL_LIST = "annotations/trainval.txt"
TEST_LIST = "annotations/test.txt"
BOM = "\ufeff"  # some editors start UTF-8 files with it; it is not part of the first name
# The trimap's values and the classes they are: class 0 is the pet, so "class 0 IoU" is pet IoU.
TRIMAP_CLASSES = (("pet", 1), ("background", 2), ("border", 3))
PET, BORDER = "pet", "border"
SPECIES_NAMES = {1: "cat", 2: "dog"}  # the list files' SPECIES column


def oxford_pets(border_as_ignore: bool = False) -> DatasetSpec:
    """Oxford-IIIT Pet trimaps: 1 pet, 2 background, 3 border (or 3 ignore, a common protocol).
    Slices by species (cat, dog) besides object size."""
    labels = TRIMAP_CLASSES[:-1] if border_as_ignore else TRIMAP_CLASSES
    return DatasetSpec(
        "oxford-iiit-pet",
        OXFORD_LAYOUT,
        ("R", "G", "B"),
        labels,
        ignore_value=TRIMAP_CLASSES[-1][1] if border_as_ignore else None,
        outline_class=None if border_as_ignore else BORDER,
        file_ending=".jpg",
        slices=((contracts.SPECIES_KEY, tuple(SPECIES_NAMES.items())),),
    )


OXFORD_PETS = oxford_pets()


@dataclass(frozen=True)
class ListEntry:
    """One row of an Oxford list file: NAME CLASS-ID SPECIES BREED-ID."""

    name: str
    class_id: int
    species: int
    breed_id: int


def parse_list_line(line: str) -> ListEntry | None:
    """A list-file row as a ListEntry; None for '#' header lines and blank lines."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    parts = text.split()
    if "/" in parts[0] or "\\" in parts[0] or "\x00" in parts[0] or parts[0] in (".", ".."):
        raise MalformedRow(parts[0], f"malformed list line (name is not a file name): {text!r}")
    if len(parts) != 4:
        raise MalformedRow(parts[0], f"malformed list line (expected 4 columns): {text!r}")
    try:
        class_id, species, breed_id = (int(p) for p in parts[1:])
    except ValueError:
        raise MalformedRow(parts[0], f"malformed list line (non-integer ids): {text!r}") from None
    return ListEntry(parts[0], class_id, species, breed_id)


def list_lines(root: str, list_file: str) -> list[str] | None:
    """The lines of a list file as text (a UTF-8 BOM dropped), None when it is missing.

    A byte that is not UTF-8 fails here, before any component runs, naming the file and line:
    Beam would otherwise stop the ExampleGen with a decode error that names neither.
    """
    data = read_in_root(root, list_file)
    if data is None:
        return None
    lines = []
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise ValueError(
                f"{join(root, list_file)}, line {number}: not UTF-8 text (byte "
                f"0x{raw[error.start]:02x} at column {error.start + 1})"
            ) from None
    if lines:
        lines[0] = lines[0].removeprefix(BOM)
    return lines


def _first_entry_line(root: str, list_file: str) -> str | None:
    """The first row that is not a header or blank; FileNotFoundError when the list is missing."""
    lines = list_lines(root, list_file)
    if lines is None:
        raise FileNotFoundError(join(root, list_file))
    return next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), None)


def check_layout(root: str, list_files: Iterable[str] = (TRAINVAL_LIST, TEST_LIST)) -> None:
    """Fails with every missing piece named when `root` is not an Oxford-IIIT Pet folder.

    Without this a wrong --data-root would give an empty data set (or one made only of skips).
    """
    if not is_dir(root):
        raise ValueError(f"data root {root} does not exist or is not a directory")
    expected = (
        "expected images/, annotations/trimaps/, annotations/trainval.txt, annotations/test.txt"
    )
    missing = [d for d in (ANNOTATIONS_DIR, IMAGES_DIR, TRIMAPS_DIR) if not is_dir(join(root, d))]
    present_lists = []
    for list_file in list_files:
        try:
            present_lists.append((list_file, _first_entry_line(root, list_file)))
        except FileNotFoundError:
            missing.append(list_file)
    if missing:
        paths = ", ".join(join(root, m) for m in missing)
        raise ValueError(f"not an Oxford-IIIT Pet folder: missing {paths} ({expected})")
    empty = [join(root, name) for name, first in present_lists if first is None]
    if empty:
        raise ValueError(f"list file(s) without any example rows: {', '.join(empty)}")


def ingest_entry(
    root: str, entry: ListEntry, spec: DatasetSpec, max_file_mb: float
) -> Ingested | Skipped:
    """Decodes and checks the image and trimap of one listed name."""
    image_rel = f"{IMAGES_DIR}/{entry.name}.jpg"
    trimap_rel = f"{TRIMAPS_DIR}/{entry.name}.png"
    result = ingest_pair(
        root, spec, entry.name, image_rel, trimap_rel, "trimap", False, max_file_mb
    )
    if isinstance(result, Skipped):
        return result
    return dataclasses.replace(result, species=entry.species, breed_id=entry.class_id)


def _list_rows(line: bytes, order: int, source: str):
    # Undecodable bytes stop the run earlier (list_lines); here they must not crash.
    text = line.decode("utf-8", errors="replace").removeprefix(BOM)
    text = " ".join(text.split())  # whitespace-normalised, so equal rows compare equal
    if text and not text.startswith("#"):
        yield text.split()[0], Row(order, text, source)


class OxfordLayout(Layout):
    """images/NAME.jpg, annotations/trimaps/NAME.png, rows from annotations/{trainval,test}.txt."""

    noun = "trimap"

    def sources(self) -> dict[str, str]:
        return {TRAIN: TRAINVAL_LIST, EVAL: TRAINVAL_LIST, TEST: TEST_LIST}

    def has_own_test(self, root: str, spec: DatasetSpec) -> bool:
        return True

    def fingerprinted(self) -> tuple[tuple[str, str], ...]:
        return (("images", f"{IMAGES_DIR}/*"), ("trimaps", f"{TRIMAPS_DIR}/*"))

    def check(self, root: str, sources: list[str], spec: DatasetSpec) -> None:
        check_layout(root, sources)

    def rows(self, pipeline: Any, root: str, sources: list[str], spec: DatasetSpec) -> list[Any]:
        import apache_beam as beam  # here: describing a folder must not wait for Beam to load

        as_bytes = beam.coders.BytesCoder()  # list lines are decoded by _list_rows, not by Beam
        return [
            pipeline
            | f"ReadList[{i}]" >> beam.io.ReadFromText(join(root, source), coder=as_bytes)
            | f"KeyByName[{i}]" >> beam.FlatMap(_list_rows, i, source)
            for i, source in enumerate(sources)
        ]

    def parse(self, row: Row) -> ListEntry:
        entry = parse_list_line(row.text)
        assert entry is not None  # headers and blank lines were dropped when keying
        return entry

    def ingest(
        self, root: str, spec: DatasetSpec, entry: ListEntry, max_file_mb: float
    ) -> Ingested | Skipped:
        return ingest_entry(root, entry, spec, max_file_mb)
