"""What a folder layout the ExampleGen reads must say, and what every layout shares.

A layout says where each split's rows come from (a list file, or a folder of cases), how a row
becomes a case, how a case is read and checked, and which files the cache fingerprint covers. The
executor's Beam pipeline is the same for all: rows keyed by name, grouped (names listed twice are
caught), read one at a time on the workers. Oxford-IIIT Pet (oxford.py) and nnU-Net's raw-data
layout (nnunet.py) implement it; layouts.py says which one a folder holds.
"""

from __future__ import annotations

import abc
import hashlib
from typing import Any, NamedTuple

from components.example_gen.images import Ingested, Skipped
from core.contracts import EVAL, TEST, TRAIN
from core.dataset import DatasetSpec


class Row(NamedTuple):
    """One listed row: its order among the sources, its whitespace-normalised text, its source.
    Equal rows are ingested once, the first first."""

    order: int
    text: str
    source: str


class MalformedRow(ValueError):
    """A listed row that no case can be read from; `name` is the name it was keyed by."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def name_bucket(name: str) -> int:
    """A stable 0..99 bucket of a name (sha256, so it is the same on every run and machine)."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16) % 100


def split_of(name: str, eval_percent: int, test_from_train: bool) -> str:
    """train / eval (and test, when the data set has no test set of its own) by a stable hash."""
    bucket = name_bucket(name)
    if bucket < eval_percent:
        return EVAL
    if test_from_train and bucket < 2 * eval_percent:
        return TEST
    return TRAIN


class Layout(abc.ABC):
    """A folder layout (see the module docstring). `noun` names the mask in skip reasons."""

    noun: str = "mask"

    @abc.abstractmethod
    def sources(self) -> dict[str, str]:
        """split -> the list file or folder its rows come from (train and eval share one)."""

    @abc.abstractmethod
    def has_own_test(self, root: str, spec: DatasetSpec) -> bool:
        """Whether the data set has a labelled test set; without one, test comes from the
        training rows by hash."""

    @abc.abstractmethod
    def fingerprinted(self) -> tuple[tuple[str, str], ...]:
        """(name, glob under the root) of the files the cache fingerprint covers."""

    @abc.abstractmethod
    def check(self, root: str, sources: list[str], spec: DatasetSpec) -> None:
        """Fails (ValueError) when the folder does not hold this layout as `spec` describes it."""

    @abc.abstractmethod
    def rows(self, pipeline: Any, root: str, sources: list[str], spec: DatasetSpec) -> list[Any]:
        """PCollections of (name, Row), one per source read."""

    @abc.abstractmethod
    def parse(self, row: Row) -> Any:
        """The case a row names; MalformedRow when it names none."""

    @abc.abstractmethod
    def ingest(
        self, root: str, spec: DatasetSpec, case: Any, max_file_mb: float
    ) -> Ingested | Skipped:
        """Reads and checks one case."""
