"""nnU-Net v2's raw-data layout for 2-D images: dataset.json, imagesTr/labelsTr, imagesTs/labelsTs.

    dataset.json                  channel_names, labels (name -> value, `background`, optional
                                  `ignore`), file_ending, numTraining
    imagesTr/CASE_0000<ending>    one file per case: one grayscale channel, or RGB in one file
    labelsTr/CASE<ending>         the mask in the declared label values
    imagesTs/, labelsTs/          optional: the labelled `test` split

An existing nnU-Net data set works unchanged. A description that cannot be right fails here, before
any component runs, naming the field; a file that does not match it is skipped and reported.
Masks of a lossy `file_ending` (.jpg) are looked up as .png, since a JPEG cannot hold labels.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from components.example_gen import images
from components.example_gen.files import is_dir, join, list_dir, read_in_root
from components.example_gen.layout import Layout, MalformedRow, Row
from core.contracts import EVAL, TEST, TRAIN
from core.dataset import BACKGROUND, IGNORE, MAX_LABEL_VALUE, NNUNET_LAYOUT, DatasetSpec

DESCRIPTION_FILE = "dataset.json"
IMAGES_TR, LABELS_TR, IMAGES_TS, LABELS_TS = "imagesTr", "labelsTr", "imagesTs", "labelsTs"
FILE_ENDINGS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
LOSSY_ENDINGS = (".jpg", ".jpeg")
CHANNEL_SUFFIX = "_0000"
SAMPLED_IMAGES = 5  # images whose channels are checked before any component runs
_CASE_NAME = re.compile(r"^[^/\\\x00]{1,200}$")


def label_ending(file_ending: str) -> str:
    """The masks' file ending: the data set's own, or .png where that one is lossy."""
    return ".png" if file_ending in LOSSY_ENDINGS else file_ending


def _fail(path: str, field: str, problem: str) -> ValueError:
    return ValueError(f"{path}: `{field}` {problem}")


def parse_description(path: str, data: bytes) -> dict:
    """The description's JSON object, with the fields petunet needs; ValueError naming the file
    and the field otherwise."""
    try:
        description = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(description, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(description).__name__}")
    for required in ("channel_names", "labels", "file_ending"):
        if required not in description:
            raise _fail(path, required, "is missing")
    return description


def _read_description(root: str) -> tuple[str, dict]:
    path = join(root, DESCRIPTION_FILE)
    data = read_in_root(root, DESCRIPTION_FILE)
    if data is None:
        raise ValueError(f"{path} is missing: an nnU-Net data set describes itself in it")
    return path, parse_description(path, data)


def _channels(path: str, channel_names: object) -> tuple[str, ...]:
    if not isinstance(channel_names, dict) or not channel_names:
        raise _fail(path, "channel_names", 'must be an object like {"0": "EM"}')
    keys = sorted(channel_names, key=lambda k: int(k) if str(k).isdigit() else -1)
    if keys != [str(i) for i in range(len(keys))]:
        raise _fail(path, "channel_names", f"keys must be 0, 1, ... in order, got {keys}")
    if len(keys) not in (1, 3):
        raise _fail(
            path,
            "channel_names",
            f"declares {len(keys)} channels: petunet reads one grayscale channel or RGB in one "
            "file (3 channels)",
        )
    return tuple(str(channel_names[k]) for k in keys)


def _labels(path: str, labels: object) -> tuple[tuple[tuple[str, int], ...], int | None]:
    if not isinstance(labels, dict) or not labels:
        raise _fail(path, "labels", 'must be an object like {"background": 0, "cell": 1}')
    seen: dict[int, str] = {}
    for name, value in labels.items():
        if isinstance(value, list | tuple):
            raise _fail(path, "labels", f"entry {name!r} is a region {value}: not supported")
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, "labels", f"entry {name!r} must be an integer, got {value!r}")
        if not 0 <= value <= MAX_LABEL_VALUE:
            raise _fail(path, "labels", f"entry {name!r} = {value} is outside 0..{MAX_LABEL_VALUE}")
        if value in seen:
            raise _fail(path, "labels", f"value {value} is both {seen[value]!r} and {name!r}")
        if not str(name).strip() or "/" in str(name):
            raise _fail(path, "labels", f"name {name!r} must be non-empty and without '/'")
        seen[value] = str(name)
    if BACKGROUND not in labels:
        raise _fail(path, "labels", f"has no {BACKGROUND!r} entry")
    ignore = labels.get(IGNORE)
    classes = tuple(sorted(((n, v) for n, v in labels.items() if n != IGNORE), key=lambda x: x[1]))
    if len(classes) < 2:
        raise _fail(path, "labels", "needs at least one class besides background")
    return classes, ignore


def list_cases(root: str, folder: str, ending: str, suffix: str = "") -> list[str]:
    """Case names of the files `folder/CASE<suffix><ending>`, sorted; [] without the folder."""
    directory = join(root, folder)
    if not is_dir(directory):
        return []
    tail = suffix + ending
    return sorted(n[: -len(tail)] for n in list_dir(directory) if n.endswith(tail) and n != tail)


def _sampled_channels(root: str, ending: str, cases: list[str]) -> list[tuple[str, int]]:
    """(file, channel count) of the first few training images that decode (the early check)."""
    found = []
    for case in cases[:SAMPLED_IMAGES]:
        relative = f"{IMAGES_TR}/{case}{CHANNEL_SUFFIX}{ending}"
        try:
            count = images.channel_count(read_in_root(root, relative) or b"")
        except ValueError:  # unreadable: reported per file by the ExampleGen
            continue
        if count is not None:
            found.append((relative, count))
    return found


def spec_from(path: str, description: dict, default_name: str) -> DatasetSpec:
    """The DatasetSpec a parsed dataset.json declares, every field checked (not the folder)."""
    channels = _channels(path, description["channel_names"])
    classes, ignore = _labels(path, description["labels"])
    ending = description["file_ending"]
    if ending not in FILE_ENDINGS:
        raise _fail(path, "file_ending", f"{ending!r} is not one of {', '.join(FILE_ENDINGS)}")
    name = str(description.get("name") or default_name)
    return DatasetSpec(name, NNUNET_LAYOUT, channels, classes, ignore, None, ending)


def describe(root: str) -> DatasetSpec:
    """The data set's description from `root/dataset.json`, checked against the folder."""
    path, description = _read_description(root)
    spec = spec_from(path, description, root.rstrip("/").rsplit("/", 1)[-1])
    check_folder(root, path, description, spec)
    return spec


def check_folder(root: str, path: str, description: dict, spec: DatasetSpec) -> None:
    """The folders, the case count and the first images' channels against the description."""
    ending = spec.file_ending
    for folder in (IMAGES_TR, LABELS_TR):
        if not is_dir(join(root, folder)):
            raise ValueError(f"{join(root, folder)} is missing (nnU-Net layout, see {path})")
    cases = list_cases(root, IMAGES_TR, ending, CHANNEL_SUFFIX)
    separate = list_cases(root, IMAGES_TR, ending, "_0001")
    if separate:
        raise _fail(
            path, "channel_names", f"{separate[0]}_0001{ending}: channels in separate files are "
            "not supported; store RGB in one file (_0000) or use one grayscale channel"
        )  # fmt: skip
    labelled = list_cases(root, LABELS_TR, label_ending(ending))
    listed = sorted(set(cases) | set(labelled))
    num_training = description.get("numTraining")
    if num_training is not None and num_training != len(listed):
        raise _fail(
            path, "numTraining", f"is {num_training} but {IMAGES_TR}/ and {LABELS_TR}/ hold "
            f"{len(listed)} cases"
        )  # fmt: skip
    if not cases:
        raise ValueError(f"{join(root, IMAGES_TR)} holds no CASE{CHANNEL_SUFFIX}{ending} images")
    sampled = _sampled_channels(root, ending, cases)
    if sampled and all(count != spec.num_channels for _, count in sampled):
        first, count = sampled[0]
        raise _fail(
            path, "channel_names", f"declares {spec.num_channels} channel(s) but {first} has "
            f"{count}; none of the {len(sampled)} image(s) checked matches"
        )  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One listed case and the folders its image and mask are read from."""

    name: str
    images_dir: str
    labels_dir: str


def check_case_name(name: str) -> str | None:
    """Why a case name cannot be used, or None."""
    if not _CASE_NAME.match(name) or name in (".", ".."):
        return f"case name {name!r} is not a plain file name"
    return None


def ingest_case(
    root: str, spec: DatasetSpec, case: Case, max_file_mb: float
) -> images.Ingested | images.Skipped:
    """Reads, decodes and checks one case's image and mask against the description."""
    image_rel = f"{case.images_dir}/{case.name}{CHANNEL_SUFFIX}{spec.file_ending}"
    mask_rel = f"{case.labels_dir}/{case.name}{label_ending(spec.file_ending)}"
    return images.ingest_pair(
        root, spec, case.name, image_rel, mask_rel, "label", True, max_file_mb
    )


class NnUNetLayout(Layout):
    """dataset.json, imagesTr/CASE_0000.png + labelsTr/CASE.png (imagesTs/labelsTs: test)."""

    noun = "label"

    def sources(self) -> dict[str, str]:
        return {TRAIN: IMAGES_TR, EVAL: IMAGES_TR, TEST: IMAGES_TS}

    def has_own_test(self, root: str, spec: DatasetSpec) -> bool:
        """imagesTs is the test split when labelsTs labels it; otherwise test comes from imagesTr
        by hash (nnU-Net's imagesTs alone holds images to predict, not to score)."""
        return bool(list_cases(root, LABELS_TS, label_ending(spec.file_ending)))

    def fingerprinted(self) -> tuple[tuple[str, str], ...]:
        folders = (IMAGES_TR, LABELS_TR, IMAGES_TS, LABELS_TS)
        return (*((f, f"{f}/*") for f in folders), ("description", DESCRIPTION_FILE))

    def check(self, root: str, sources: list[str], spec: DatasetSpec) -> None:
        """The folder's dataset.json must declare what the pipeline was built for (a spec
        compiled from a local copy of it, say), and the folder must hold it."""
        found = describe(root)
        if dataclasses.replace(found, name=spec.name) != spec:
            raise ValueError(
                f"{join(root, DESCRIPTION_FILE)} declares {found.to_json()}, but the pipeline "
                f"was built for {spec.to_json()}"
            )

    def _cases(self, root: str, source: str, spec_ending: str) -> list[str]:
        labels = LABELS_TS if source == IMAGES_TS else LABELS_TR
        found = list_cases(root, source, spec_ending, CHANNEL_SUFFIX)
        masks = list_cases(root, labels, label_ending(spec_ending))
        return sorted(set(found) | set(masks))

    def rows(self, pipeline: Any, root: str, sources: list[str], spec: DatasetSpec) -> list[Any]:
        import apache_beam as beam

        keyed = [
            (case, Row(i, case, source))
            for i, source in enumerate(sources)
            for case in self._cases(root, source, spec.file_ending)
        ]
        return [pipeline | "ListCases" >> beam.Create(keyed, reshuffle=False)]

    def parse(self, row: Row) -> Case:
        problem = check_case_name(row.text)
        if problem:
            raise MalformedRow(row.text, problem)
        labels = LABELS_TS if row.source == IMAGES_TS else LABELS_TR
        return Case(row.text, row.source, labels)

    def ingest(
        self, root: str, spec: DatasetSpec, case: Case, max_file_mb: float
    ) -> images.Ingested | images.Skipped:
        return ingest_case(root, spec, case, max_file_mb)
