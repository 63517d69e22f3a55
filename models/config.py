"""Every knob of petunet in one place: the paper's values as defaults, small presets for CPU runs.

`PipelineConfig` is a frozen dataclass; presets are partial overrides of it and the runners apply
command-line overrides on top (`with_overrides`). Validation happens here, before any component
runs, so a bad tile or preset fails at once with a message.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from typing import Any

from models.dataset import OXFORD_PETS, DatasetSpec
from models.network import geometry

PIPELINE_NAME = "petunet"

OPTIMIZERS = ("sgd", "adam")
LR_SCHEDULES = ("constant", "cosine")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
JIT_CHOICES = ("auto", "on", "off")
SYNTHETIC_SETS = ("pets", "cells")
# field -> (lowest, highest, lowest excluded); every number of the config is checked against it.
RANGES: dict[str, tuple[float, float, bool]] = {
    "synthetic_num_images": (2, 100_000, False),
    "synthetic_seed": (0, 2**31 - 1, False),
    "eval_percent": (1, 49, False),
    "max_file_mb": (0.0, 100_000.0, True),
    "max_image_megapixels": (0.0, 1000.0, True),
    "tile_size": (1, geometry.MAX_TILE, False),
    "depth": (1, geometry.MAX_DEPTH, False),
    "base_filters": (1, 1024, False),
    "dropout_rate": (0.0, 0.95, False),
    "learning_rate": (0.0, 10.0, False),
    "momentum": (0.0, 0.9999, False),
    "lr_final_fraction": (0.0, 1.0, False),
    "batch_size": (1, 1024, False),
    "train_steps": (1, 10_000_000, False),
    "eval_steps": (1, 1_000_000, False),
    "shuffle_buffer": (1, 100_000, False),
    "checkpoint_every_steps": (1, 10_000_000, False),
    "steps_per_execution": (1, 100_000, False),
    "elastic_grid": (1, 64, False),
    "elastic_std_px": (0.0, 1000.0, False),
    "border_w0": (0.0, 1000.0, False),
    "border_sigma_px": (0.0, 1000.0, True),
    "border_max_objects": (2, 256, False),
    "mean_iou_threshold": (0.0, 1.0, False),
    "foreground_iou_threshold": (0.0, 1.0, False),
    "change_threshold": (-1.0, 1.0, False),
    "max_skipped_percent": (0.0, 100.0, False),
    "min_eval_examples": (1, 1_000_000, False),
}
# Fields whose command-line flag is not simply --field-name.
FLAG_NAMES = {"synthetic_num_images": "--num-images", "synthetic_seed": "--seed"}


def flag_name(field: str) -> str:
    """The command-line flag that sets a config field, for error messages."""
    return FLAG_NAMES.get(field, "--" + field.replace("_", "-"))


def _check_range(field: str, value: Any) -> None:
    low, high, low_open = RANGES[field]
    integral = isinstance(low, int) and isinstance(high, int)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{flag_name(field)} must be a number, got {value!r}")
    if integral and not float(value).is_integer():
        raise ValueError(f"{flag_name(field)} must be a whole number, got {value}")
    below = value <= low if low_open else value < low
    if math.isnan(value) or below or value > high:
        bracket = "(" if low_open else "["
        raise ValueError(f"{flag_name(field)} must be in {bracket}{low}, {high}], got {value}")


@dataclass(frozen=True)
class PipelineConfig:
    """All settings of a run. Defaults are the paper's (Ronneberger et al. 2015, Sec. 3)."""

    # --- where things are ---
    pipeline_name: str = PIPELINE_NAME
    output_dir: str = "outputs"
    data_root: str | None = None  # None: generate a synthetic set under output_dir
    # --- data ---
    # The data set's classes, values and channels: read from the data folder by the runner.
    dataset: DatasetSpec = OXFORD_PETS
    synthetic: str = "pets"  # the generated set when there is no data root: pets or cells
    synthetic_num_images: int = 200
    synthetic_seed: int = 0
    eval_percent: int = 20  # share of the training names that goes to `eval` (by name hash)
    oxford_border_as_ignore: bool = False  # Oxford trimaps: border pixels weigh nothing
    max_file_mb: float = 64.0  # the largest image or mask file read; larger ones are skipped
    max_image_megapixels: float = 40.0  # the served model refuses larger images (from the header)
    # --- network (paper, Fig. 1) ---
    tile_size: int = 572
    depth: int = 5
    base_filters: int = 64
    dropout_rate: float = 0.5
    # --- training (paper, Sec. 3) ---
    optimizer: str = "sgd"
    learning_rate: float = 1e-3
    momentum: float = 0.99
    # constant (the paper gives no schedule) or cosine: decays to lr * lr_final_fraction at the end
    lr_schedule: str = "constant"
    lr_final_fraction: float = 0.05
    batch_size: int = 1
    train_steps: int = 20000
    eval_steps: int = 50
    shuffle_buffer: int = 64  # image examples are large: not TFX's default 10,000
    precision: str = "auto"  # auto: mixed_bfloat16 where the hardware supports it
    jit_compile: str = "auto"  # auto: off on CPU (measured slower), on for GPUs
    checkpoint_every_steps: int = 500
    # train steps per call into the compiled train function; >1 saves the per-step Python dispatch.
    # Checkpoints and logs still come per epoch; the last call of a run completes, so train_steps
    # is met exactly when it is a multiple of this.
    steps_per_execution: int = 1
    # --- augmentation (paper, Sec. 3.1) ---
    elastic_grid: int = 3
    elastic_std_px: float = 10.0
    flip: bool = True
    # --- loss (paper, Eq. 2) ---
    class_balance: bool = True
    border_weight: bool = True
    border_w0: float = 10.0
    border_sigma_px: float = 5.0
    border_max_objects: int = 8  # largest objects per foreground class the border term considers
    # --- evaluation and blessing ---
    mean_iou_threshold: float = 0.5
    foreground_iou_threshold: float = 0.0  # every foreground class's IoU (Oxford: the pet's)
    change_threshold: float = -1e-10  # no regression against the last blessed model
    # --- data gates: the run stops before training when one fails ---
    max_skipped_percent: float = 10.0  # of the listed examples
    min_eval_examples: int = 50
    allow_anomalies: bool = False  # ExampleValidator's anomalies stop the run unless allowed
    # --- execution ---
    beam_args: tuple[str, ...] = ("--direct_running_mode=in_memory", "--direct_num_workers=1")
    enable_cache: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"--optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"--lr-schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.jit_compile not in JIT_CHOICES:
            raise ValueError(
                f"--jit-compile must be one of {JIT_CHOICES}, got {self.jit_compile!r}"
            )
        if self.synthetic not in SYNTHETIC_SETS:
            raise ValueError(f"--synthetic must be one of {SYNTHETIC_SETS}, got {self.synthetic!r}")
        for field in RANGES:
            _check_range(field, getattr(self, field))
        geometry.geometry(self.tile_size, self.depth)  # raises with the nearest valid tiles
        if self.data_root is not None and not os.path.isdir(self.data_root):
            raise ValueError(f"--data-root {self.data_root!r} is not a directory")

    @property
    def num_classes(self) -> int:
        return self.dataset.num_classes

    @property
    def input_channels(self) -> int:
        return self.dataset.num_channels

    @property
    def output_size(self) -> int:
        return geometry.output_size(self.tile_size, self.depth)

    @property
    def margin(self) -> int:
        return geometry.margin(self.tile_size, self.depth)

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_dir, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output_dir, "metadata.sqlite")

    @property
    def serving_model_dir(self) -> str:
        return os.path.join(self.output_dir, "serving_model")

    @property
    def trainer_backup_dir(self) -> str:
        return os.path.join(self.output_dir, "trainer_backup")

    @property
    def synthetic_data_dir(self) -> str:
        return os.path.join(self.output_dir, f"synthetic_{self.synthetic}")

    def with_overrides(self, **overrides: Any) -> PipelineConfig:
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return dataclasses.replace(self, **overrides)

    def to_json(self) -> str:
        """The config as JSON, passed to the Trainer as custom_config."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["dataset"] = self.dataset.to_dict()
        return json.dumps(values, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PipelineConfig:
        values = json.loads(text)
        values["beam_args"] = tuple(values.get("beam_args", ()))
        values["dataset"] = DatasetSpec.from_dict(values["dataset"])
        return cls(**values)


# Presets: partial overrides of the paper defaults.
PRESETS: dict[str, dict[str, Any]] = {
    # The paper: 64 filters, 572 tiles, SGD momentum 0.99, batch 1. Needs a GPU.
    "paper": {},
    # The one-command run on a 2-core CPU in under 10 minutes: the paper's depth and geometry with
    # 8 base filters on 316 tiles (docs/PERFORMANCE.md has the experiments behind each value).
    "demo": {
        "synthetic_num_images": 1000,
        "tile_size": 316,
        "depth": 5,
        "base_filters": 8,
        "dropout_rate": 0.0,
        "class_balance": False,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "lr_schedule": "cosine",
        "batch_size": 4,
        "train_steps": 4400,
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
    },
}


def get_config(preset: str = "demo", **overrides: Any) -> PipelineConfig:
    """The preset's config with overrides applied; a bad preset name fails with the choices."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    return PipelineConfig(**values)
