"""The folder layouts the ExampleGen reads, behind one interface.

A layout says where each split's rows come from (a list file, or a folder of cases), how a row
becomes a case, how a case is read and checked, and which files the cache fingerprint covers. The
executor's Beam pipeline is the same for all: rows keyed by name, grouped (names listed twice are
caught), read one at a time on the workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.example_gen import nnunet, oxford
from components.example_gen.files import is_dir, join, read_in_root
from components.example_gen.images import Ingested, Skipped
from models.contracts import EVAL, TEST, TRAIN
from models.dataset import NNUNET_LAYOUT, OXFORD_LAYOUT, DatasetSpec, oxford_pets

# (source order, normalised row text, source) per row: equal rows are ingested once, first first
Row = tuple[int, str, str]


def split_of(name: str, eval_percent: int, test_from_train: bool) -> str:
    """train / eval (and test, when the data set has no test set of its own) by a stable hash."""
    bucket = oxford.eval_bucket(name)
    if bucket < eval_percent:
        return EVAL
    if test_from_train and bucket < 2 * eval_percent:
        return TEST
    return TRAIN


def _list_rows(line: bytes, order: int, source: str):
    # Undecodable bytes stop the run earlier (oxford.list_lines); here they must not crash.
    text = line.decode("utf-8", errors="replace").removeprefix(oxford.BOM)
    text = " ".join(text.split())  # whitespace-normalised, so equal rows compare equal
    if text and not text.startswith("#"):
        yield text.split()[0], (order, text, source)


@dataclass(frozen=True)
class OxfordLayout:
    """images/NAME.jpg, annotations/trimaps/NAME.png, rows from annotations/{trainval,test}.txt."""

    noun: str = "trimap"

    def sources(self) -> dict[str, str]:
        return {TRAIN: oxford.TRAINVAL_LIST, EVAL: oxford.TRAINVAL_LIST, TEST: oxford.TEST_LIST}

    def has_own_test(self, root: str) -> bool:
        return True

    def fingerprinted(self) -> tuple[tuple[str, str], ...]:
        return (("images", f"{oxford.IMAGES_DIR}/*"), ("trimaps", f"{oxford.TRIMAPS_DIR}/*"))

    def check(self, root: str, sources: list[str]) -> None:
        oxford.check_layout(root, sources)

    def rows(self, pipeline: Any, root: str, sources: list[str]) -> list[Any]:
        import apache_beam as beam  # here: describing a folder must not wait for Beam to load

        as_bytes = beam.coders.BytesCoder()  # list lines are decoded by _list_rows, not by Beam
        return [
            pipeline
            | f"ReadList[{i}]" >> beam.io.ReadFromText(join(root, source), coder=as_bytes)
            | f"KeyByName[{i}]" >> beam.FlatMap(_list_rows, i, source)
            for i, source in enumerate(sources)
        ]

    def parse(self, text: str, source: str) -> oxford.ListEntry:
        entry = oxford.parse_list_line(text)
        assert entry is not None  # headers and blank lines were dropped when keying
        return entry

    def ingest(
        self, root: str, spec: DatasetSpec, entry: oxford.ListEntry, max_file_mb: float
    ) -> Ingested | Skipped:
        return oxford.ingest_entry(root, entry, spec, max_file_mb)


@dataclass(frozen=True)
class NnUNetLayout:
    """dataset.json, imagesTr/CASE_0000.png + labelsTr/CASE.png (imagesTs/labelsTs: test)."""

    noun: str = "label"

    def sources(self) -> dict[str, str]:
        return {TRAIN: nnunet.IMAGES_TR, EVAL: nnunet.IMAGES_TR, TEST: nnunet.IMAGES_TS}

    def has_own_test(self, root: str) -> bool:
        """imagesTs is the test split when labelsTs labels it; otherwise test comes from imagesTr
        by hash (nnU-Net's imagesTs alone holds images to predict, not to score)."""
        ending = nnunet.label_ending(nnunet.describe(root).file_ending)
        return bool(nnunet.list_cases(root, nnunet.LABELS_TS, ending))

    def fingerprinted(self) -> tuple[tuple[str, str], ...]:
        folders = (nnunet.IMAGES_TR, nnunet.LABELS_TR, nnunet.IMAGES_TS, nnunet.LABELS_TS)
        return (*((f, f"{f}/*") for f in folders), ("description", nnunet.DESCRIPTION_FILE))

    def check(self, root: str, sources: list[str]) -> None:
        nnunet.describe(root)

    def _cases(self, root: str, source: str, spec_ending: str) -> list[str]:
        labels = nnunet.LABELS_TS if source == nnunet.IMAGES_TS else nnunet.LABELS_TR
        images = nnunet.list_cases(root, source, spec_ending, nnunet.CHANNEL_SUFFIX)
        masks = nnunet.list_cases(root, labels, nnunet.label_ending(spec_ending))
        return sorted(set(images) | set(masks))

    def rows(self, pipeline: Any, root: str, sources: list[str]) -> list[Any]:
        import apache_beam as beam

        ending = nnunet.describe(root).file_ending
        keyed = [
            (case, (i, case, source))
            for i, source in enumerate(sources)
            for case in self._cases(root, source, ending)
        ]
        return [pipeline | "ListCases" >> beam.Create(keyed, reshuffle=False)]

    def parse(self, text: str, source: str) -> nnunet.Case:
        problem = nnunet.check_case_name(text)
        if problem:
            raise oxford.MalformedLine(text, problem)
        labels = nnunet.LABELS_TS if source == nnunet.IMAGES_TS else nnunet.LABELS_TR
        return nnunet.Case(text, source, labels)

    def ingest(
        self, root: str, spec: DatasetSpec, case: nnunet.Case, max_file_mb: float
    ) -> Ingested | Skipped:
        return nnunet.ingest_case(root, spec, case, max_file_mb)


LAYOUTS = {OXFORD_LAYOUT: OxfordLayout(), NNUNET_LAYOUT: NnUNetLayout()}


def for_spec(spec: DatasetSpec) -> OxfordLayout | NnUNetLayout:
    return LAYOUTS[spec.layout]


def describe(root: str, oxford_border_as_ignore: bool = False) -> DatasetSpec:
    """The data set's description, read from what the folder holds, before any component runs.

    `dataset.json` -> nnU-Net's layout; annotations/ and images/ -> the Oxford-IIIT Pet layout.
    """
    if not is_dir(root):
        raise ValueError(f"data root {root} does not exist or is not a directory")
    if read_in_root(root, nnunet.DESCRIPTION_FILE) is not None:
        return nnunet.describe(root)
    if is_dir(join(root, oxford.ANNOTATIONS_DIR)) or is_dir(join(root, oxford.IMAGES_DIR)):
        oxford.check_layout(root)
        return oxford_pets(oxford_border_as_ignore)
    raise ValueError(
        f"{root} holds neither a dataset.json (nnU-Net layout: imagesTr/, labelsTr/) nor an "
        "Oxford-IIIT Pet folder (images/, annotations/trimaps/, annotations/trainval.txt, "
        "annotations/test.txt)"
    )
