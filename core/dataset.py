"""What a data set is: its classes (names and mask values), its channels and its ignore value.

The description is read from the data folder before any component runs (nnU-Net's `dataset.json`,
or the Oxford-IIIT Pet layout's fixed trimap values) and travels in the config to every component:
ExampleGen checks each file against it, Transform maps mask values to class indices, the Trainer
sizes the network and weighs the loss, the Evaluators name their metrics after the classes, and the
exported model answers in the data set's own label values. No flag repeats it by hand.

Class indices follow the label values in ascending order, `ignore` left out: Oxford's trimap
1 pet / 2 background / 3 border becomes 0 / 1 / 2, nnU-Net's background 0 / cell 1 stays 0 / 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core import contracts

BACKGROUND = "background"
IGNORE = "ignore"
OXFORD_LAYOUT = "oxford"
NNUNET_LAYOUT = "nnunet"
MAX_LABEL_VALUE = 255  # masks are stored as 8-bit PNGs
SUPPORTED_CHANNELS = (1, 3)  # one grayscale or one RGB file per case


@dataclass(frozen=True)
class DatasetSpec:
    """A segmentation data set's description; see the module docstring.

    labels: (class name, mask value) for every class, `ignore` excluded, in ascending value order.
    outline_class: a thin class (Oxford's 1-3 px border band) that wins any canvas pixel whose
        footprint holds it when masks are shrunk, so the band stays closed; None: majority only.
    slices: raw integer features of this data set the Evaluators slice by (besides object size),
        each with the names of its values, e.g. Oxford's ("species", ((1, "cat"), (2, "dog"))).
    """

    name: str
    layout: str
    channels: tuple[str, ...]
    labels: tuple[tuple[str, int], ...]
    ignore_value: int | None = None
    outline_class: str | None = None
    file_ending: str = ".png"
    slices: tuple[tuple[str, tuple[tuple[int, str], ...]], ...] = ()

    def __post_init__(self) -> None:
        names = [n for n, _ in self.labels]
        values = [v for _, v in self.labels]
        if values != sorted(values) or len(set(values)) != len(values):
            raise ValueError(f"labels must have distinct values in ascending order: {self.labels}")
        if BACKGROUND not in names:
            raise ValueError(f"labels must include {BACKGROUND!r}: {self.labels}")
        if len(set(names)) != len(names):
            raise ValueError(f"label names must be distinct: {names}")
        if len(self.labels) < 2:
            raise ValueError(f"a segmentation needs at least two classes, got {names}")
        if len(self.channels) not in SUPPORTED_CHANNELS:
            raise ValueError(f"{len(self.channels)} channels: petunet reads 1 (gray) or 3 (RGB)")
        if self.outline_class is not None and self.outline_class not in names:
            raise ValueError(f"outline class {self.outline_class!r} is not among {names}")

    # --- derived views ---------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def num_channels(self) -> int:
        return len(self.channels)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.labels)

    @property
    def class_values(self) -> tuple[int, ...]:
        return tuple(value for _, value in self.labels)

    @property
    def declared_values(self) -> frozenset[int]:
        """Every value a mask may hold: the classes' and the ignore value."""
        ignore = () if self.ignore_value is None else (self.ignore_value,)
        return frozenset((*self.class_values, *ignore))

    def slice_value_name(self, feature: str, value: int) -> str | None:
        """The name of a slice feature's value (Oxford's species 1 -> "cat"), None if unnamed."""
        return dict(dict(self.slices).get(feature, ())).get(value)

    def class_index(self, name: str) -> int:
        return self.class_names.index(name)

    @property
    def background_class(self) -> int:
        return self.class_index(BACKGROUND)

    @property
    def outline_index(self) -> int | None:
        return None if self.outline_class is None else self.class_index(self.outline_class)

    @property
    def foreground_classes(self) -> tuple[int, ...]:
        """Classes whose connected components are objects: all but background and the outline."""
        skip = {self.background_class, self.outline_index}
        return tuple(c for c in range(self.num_classes) if c not in skip)

    def value_to_class(self) -> list[int]:
        """Lookup table of 256 entries: mask value -> class index, IGNORE_LABEL elsewhere."""
        table = [contracts.IGNORE_LABEL] * (MAX_LABEL_VALUE + 1)
        for index, value in enumerate(self.class_values):
            table[value] = index
        return table

    # --- serialisation (custom_config, exec properties, artifacts) -------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layout": self.layout,
            "channels": list(self.channels),
            "labels": {name: value for name, value in self.labels},
            "ignore_value": self.ignore_value,
            "outline_class": self.outline_class,
            "file_ending": self.file_ending,
            "slices": {feature: dict(names) for feature, names in self.slices},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DatasetSpec:
        labels = sorted(values["labels"].items(), key=lambda item: item[1])
        return cls(
            name=values["name"],
            layout=values["layout"],
            channels=tuple(values["channels"]),
            labels=tuple((str(n), int(v)) for n, v in labels),
            ignore_value=values.get("ignore_value"),
            outline_class=values.get("outline_class"),
            file_ending=values.get("file_ending", ".png"),
            slices=tuple(
                (str(feature), tuple(sorted((int(v), str(n)) for v, n in names.items())))
                for feature, names in sorted(values.get("slices", {}).items())
            ),
        )

    @classmethod
    def from_json(cls, text: str) -> DatasetSpec:
        return cls.from_dict(json.loads(text))
