"""Every knob of petunet in one place: the sections (core/sections.py) gathered into one
PipelineConfig, what the Trainer reads of it, and the presets.

Every field is a setting (core/settings.py): its flag, range and help are declared with it, and
both command-line interfaces and the docs' table of flags are made from them. Presets are
partial overrides by field name (names are unique across sections); the runners apply command-line
overrides on top. Every value is checked when a section is built.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any

from core.dataset import DatasetSpec
from core.sections import (  # noqa: F401  (the sections, also reached as config.X)
    IN_MEMORY_BEAM,
    PIPELINE_NAME,
    PLACEMENT_FIELDS,
    SECTION_OF,
    SECTIONS,
    DataConfig,
    EvaluationConfig,
    RunConfig,
    ServingConfig,
    TrainingConfig,
    TransformConfig,
)
from core.settings import SettingError


@dataclass(frozen=True)
class TrainerConfig:
    """What the Trainer reads: its section, the tile geometry, the data set and the export's
    settings. models/training takes this, never the whole pipeline config."""

    training: TrainingConfig
    transform: TransformConfig
    dataset: DatasetSpec
    serving: ServingConfig = ServingConfig()

    @property
    def tile_size(self) -> int:
        return self.transform.tile_size

    @property
    def depth(self) -> int:
        return self.transform.depth

    @property
    def output_size(self) -> int:
        return self.transform.output_size

    @property
    def margin(self) -> int:
        return self.transform.margin

    @property
    def num_classes(self) -> int:
        return self.dataset.num_classes

    @property
    def input_channels(self) -> int:
        return self.dataset.num_channels

    def with_training(self, **overrides: Any) -> TrainerConfig:
        return dataclasses.replace(self, training=dataclasses.replace(self.training, **overrides))

    def to_custom_config(self) -> dict[str, str]:
        """The Trainer's custom_config (its cache key with TrainArgs/EvalArgs): every section it
        reads but the step counts, which TFX passes itself."""
        return {
            "training": json.dumps(self.training.without_steps(), sort_keys=True),
            "transform": json.dumps(dataclasses.asdict(self.transform), sort_keys=True),
            "serving": json.dumps(dataclasses.asdict(self.serving), sort_keys=True),
            "dataset": self.dataset.to_json(),
        }

    @classmethod
    def from_custom_config(
        cls, custom_config: dict[str, str], train_steps: int, eval_steps: int
    ) -> TrainerConfig:
        training = json.loads(custom_config["training"])
        return cls(
            training=TrainingConfig(**training, train_steps=train_steps, eval_steps=eval_steps),
            transform=TransformConfig(**json.loads(custom_config["transform"])),
            dataset=DatasetSpec.from_json(custom_config["dataset"]),
            serving=ServingConfig(**json.loads(custom_config["serving"])),
        )

    def checkpoint_key(self) -> str:
        """What a checkpoint depends on: the training section (steps included), the geometry and
        the data set; not the export's settings."""
        training = dataclasses.asdict(self.training)
        for name in PLACEMENT_FIELDS:
            training.pop(name)
        return json.dumps(
            {
                "training": training,
                "transform": dataclasses.asdict(self.transform),
                "dataset": self.dataset.to_dict(),
            },
            sort_keys=True,
        )


@dataclass(frozen=True)
class PipelineConfig:
    """All settings of a run, in sections (see the module docstring)."""

    data: DataConfig = DataConfig()
    transform: TransformConfig = TransformConfig()
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    serving: ServingConfig = ServingConfig()
    run: RunConfig = RunConfig()

    @property
    def dataset(self) -> DatasetSpec:
        if self.data.dataset is None:
            raise ValueError("the data set's description is not settled yet (pipeline/data.py)")
        return self.data.dataset

    @property
    def synthetic_data_dir(self) -> str:
        return os.path.join(self.run.output_dir, f"synthetic_{self.data.synthetic}")

    def with_dataset(self, dataset: DatasetSpec) -> PipelineConfig:
        return dataclasses.replace(self, data=dataclasses.replace(self.data, dataset=dataset))

    def trainer(self) -> TrainerConfig:
        return TrainerConfig(self.training, self.transform, self.dataset, self.serving)

    def with_overrides(self, **overrides: Any) -> PipelineConfig:
        """A copy with settings replaced by name; each touched section is checked again."""
        unknown = set(overrides) - set(SECTION_OF) - {"dataset"}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        by_section: dict[str, dict[str, Any]] = {}
        for name, value in overrides.items():
            by_section.setdefault(SECTION_OF.get(name, "data"), {})[name] = value
        return dataclasses.replace(
            self,
            **{
                section: dataclasses.replace(getattr(self, section), **values)
                for section, values in by_section.items()
            },
        )

    def to_json(self) -> str:
        values = {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}
        if self.data.dataset is not None:
            values["data"]["dataset"] = self.data.dataset.to_dict()
        return json.dumps(values, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PipelineConfig:
        values = json.loads(text)
        values["run"]["beam_args"] = tuple(values["run"]["beam_args"])
        if values["data"].get("dataset") is not None:
            values["data"]["dataset"] = DatasetSpec.from_dict(values["data"]["dataset"])
        return cls(**{name: SECTIONS[name](**values[name]) for name in SECTIONS})


# Presets: partial overrides of the paper's defaults, by setting name.
PRESETS: dict[str, dict[str, Any]] = {
    # The paper: 64 filters, 572 tiles, SGD momentum 0.99, batch 1. Needs a GPU.
    "paper": {},
    # The one-command run on a 2-core CPU in under 10 minutes, the same network on every machine:
    # the paper's depth and geometry with 8 base filters on 316 tiles, 2,600 generated pets of
    # which 1,692 train and a fifth test (only reported), six minutes of training, and no elastic
    # deformation, which slows a step on two cores more than it helps in six minutes.
    "demo": {
        "synthetic_num_images": 2600,
        "synthetic_test_percent": 20,
        "tile_size": 316,
        "depth": 5,
        "base_filters": 8,
        "dropout_rate": 0.0,
        "class_balance": False,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "lr_schedule": "cosine",
        "batch_size": 4,
        "train_steps": 20_000,  # the most: the minutes decide
        "train_minutes": 6.0,
        "elastic_std_px": 0.0,  # flips only
        "eval_steps": 12,
        "shuffle_buffer": 64,
        "checkpoint_every_steps": 550,
        "steps_per_execution": 10,
        "mean_iou_threshold": 0.4,
        "foreground_iou_threshold": 0.5,
        "min_eval_examples": 30,
    },
    # Tests: seconds. A shallow net on tiny tiles.
    "test": {
        "synthetic_num_images": 40,
        "tile_size": 92,
        "depth": 3,
        "base_filters": 8,
        "optimizer": "adam",
        "learning_rate": 2e-3,
        "batch_size": 4,
        "train_steps": 150,
        "eval_steps": 2,
        "shuffle_buffer": 8,
        "checkpoint_every_steps": 50,
        "mean_iou_threshold": 0.0,
        "dropout_rate": 0.0,
        "class_balance": False,
        "min_eval_examples": 2,
        # Reproducible: later runs in a test start from the first run's weights and data order,
        # so "fewer steps" means "a worse model" and not another draw of the initial weights.
        "training_seed": 1,
    },
}


def get_config(preset: str = "demo", **overrides: Any) -> PipelineConfig:
    """The preset's config with overrides applied (None keeps the preset's value); a bad preset
    name or value fails with a message naming it."""
    if preset not in PRESETS:
        raise SettingError("--preset", f"{preset!r} is unknown; choose one of {sorted(PRESETS)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    values = {**PRESETS[preset], **given}
    unknown = set(values) - set(SECTION_OF) - {"dataset"}
    if unknown:
        raise ValueError(f"unknown config keys: {sorted(unknown)}")
    by_section: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for name, value in values.items():
        by_section[SECTION_OF.get(name, "data")][name] = value
    return PipelineConfig(**{name: SECTIONS[name](**by_section[name]) for name in SECTIONS})
