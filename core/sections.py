"""The configuration's sections, each field a setting (core/settings.py), the paper's defaults.

    data        the ExampleGen (and the synthetic set generated when there is no data root)
    transform   Transform: the tile geometry, which the Trainer and the served model share
    training    the Trainer (network width, optimizer, schedule, augmentation, loss, devices)
    evaluation  both Evaluators (blessing thresholds)
    serving     the exported model's signatures (written by the Trainer)
    run         the runner: paths, Beam, the cache, the data gates, the report

Each section is what one part of the pipeline reads, and its cache key; names are unique.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from core import geometry
from core.dataset import DatasetSpec
from core.settings import Kind, SettingError, check, setting, settings_of

PIPELINE_NAME = "petunet"
IN_MEMORY_BEAM = ("--direct_running_mode=in_memory", "--direct_num_workers=1")


@dataclass(frozen=True)
class DataConfig:
    """What the ExampleGen reads, and the synthetic set made when there is no data root."""

    data_root: str | None = setting(
        None, Kind.PATH, "a data folder: nnU-Net layout with dataset.json, or Oxford-IIIT Pet "
        "(default: a generated synthetic set)",
    )  # fmt: skip
    synthetic: str = setting(
        "pets", Kind.STR, "the set generated without --data-root", choices=("pets", "cells")
    )
    synthetic_num_images: int = setting(
        200, Kind.INT, "images in the generated set", low=2, high=100_000, flag="--num-images"
    )
    synthetic_seed: int = setting(
        0, Kind.INT, "seed of the generated set", low=0, high=2**31 - 1, flag="--seed"
    )
    synthetic_test_percent: int = setting(
        0, Kind.INT, "share of the generated set kept for the test split, in percent (0: the "
        "set's own: about half for pets, as in Oxford's lists; a fifth for cells)",
        low=0, high=90, flag="--test-percent",
    )  # fmt: skip
    eval_percent: int = setting(
        20, Kind.INT, "share of the training names in the eval split (by name hash)", low=1, high=49
    )
    oxford_border: str = setting(
        "class", Kind.STR, "Oxford trimaps: the border band is a class, or weighs nothing",
        choices=("class", "ignore"),
    )  # fmt: skip
    max_file_mb: float = setting(
        64.0, Kind.FLOAT, "the largest image or mask file read; larger ones are skipped",
        low=0.0, high=100_000.0, low_open=True,
    )  # fmt: skip
    spans: str = setting(
        "auto", Kind.STR, "the data root holds span-1/, span-2/, ... (auto: look)",
        choices=("auto", "on", "off"),
    )  # fmt: skip
    span_window: int = setting(
        3, Kind.INT, "with spans: Transform and the Trainer read the newest N", low=1, high=1000
    )
    # The data set's description: read from the data root (or a dataset.json) by the runner.
    dataset: DatasetSpec | None = None

    def __post_init__(self) -> None:
        check(self)
        if self.data_root is not None and "://" not in self.data_root:
            if not os.path.isdir(self.data_root):
                raise SettingError("--data-root", f"{self.data_root!r} is not a directory")


@dataclass(frozen=True)
class TransformConfig:
    """The tile geometry (paper, Fig. 2): Transform cuts to it, the Trainer and the served model
    use it. Depth is the number of levels (the paper's 5: four poolings)."""

    tile_size: int = setting(
        572, Kind.INT, "input tile T (valid: every pooled map even; 572 -> 388)", low=1,
        high=geometry.MAX_TILE,
    )  # fmt: skip
    depth: int = setting(5, Kind.INT, "levels of the U-Net", low=1, high=geometry.MAX_DEPTH)

    def __post_init__(self) -> None:
        check(self)
        try:
            geometry.geometry(self.tile_size, self.depth)
        except ValueError as error:
            raise SettingError("--tile-size", str(error).removeprefix("tile size ")) from None

    @property
    def output_size(self) -> int:
        return geometry.output_size(self.tile_size, self.depth)

    @property
    def margin(self) -> int:
        return geometry.margin(self.tile_size, self.depth)


# Fields of the training section that TFX passes to run_fn itself (TrainArgs, EvalArgs).
STEP_FIELDS = ("train_steps", "eval_steps")
# Fields that say where training runs, not what it learns: not part of the checkpoint's key, so a
# run killed on one layout resumes on another (the losses are the same: tests/test_replicas.py).
PLACEMENT_FIELDS = ("train_devices", "train_workers")


@dataclass(frozen=True)
class TrainingConfig:
    """The Trainer's settings (paper, Sec. 3). batch_size is the global batch: split evenly over
    the replicas of all workers."""

    base_filters: int = setting(64, Kind.INT, "filters of the first level (doubling per level)",
                                low=1, high=1024)  # fmt: skip
    dropout_rate: float = setting(0.5, Kind.FLOAT, "dropout at the end of the contracting path",
                                  low=0.0, high=0.95)  # fmt: skip
    optimizer: str = setting("sgd", Kind.STR, "the optimizer", choices=("sgd", "adam"))
    learning_rate: float = setting(1e-3, Kind.FLOAT, "learning rate", low=0.0, high=10.0)
    momentum: float = setting(0.99, Kind.FLOAT, "SGD momentum", low=0.0, high=0.9999)
    lr_schedule: str = setting(
        "constant", Kind.STR, "constant (the paper gives none) or cosine decay to the end",
        choices=("constant", "cosine"),
    )  # fmt: skip
    lr_final_fraction: float = setting(
        0.05, Kind.FLOAT, "cosine: the rate at the end, as a share of the first", low=0.0, high=1.0
    )
    batch_size: int = setting(1, Kind.INT, "global batch (split over the replicas)", low=1,
                              high=1024)  # fmt: skip
    train_steps: int = setting(20_000, Kind.INT, "optimizer steps (the most, with --train-minutes)",
                               low=1, high=10_000_000)  # fmt: skip
    train_minutes: float = setting(
        0.0, Kind.FLOAT, "a training-time budget: the steps that fit it, measured on this machine "
        "(at most --train-steps); 0: off", low=0.0, high=100_000.0,
    )  # fmt: skip
    eval_steps: int = setting(50, Kind.INT, "validation batches per validation round", low=1,
                              high=1_000_000)  # fmt: skip
    shuffle_buffer: int = setting(
        64, Kind.INT, "examples in the shuffle buffer (image examples are large)", low=1,
        high=100_000,
    )  # fmt: skip
    precision: str = setting(
        "auto", Kind.STR, "auto: what this machine runs fastest (measured on bfloat16 CPUs)",
        choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"),
    )  # fmt: skip
    jit_compile: str = setting("auto", Kind.STR, "XLA: auto is on for GPUs, off on CPUs",
                               choices=("auto", "on", "off"))  # fmt: skip
    checkpoint_every_steps: int = setting(
        500, Kind.INT, "steps between checkpoints and validation rounds", low=1, high=10_000_000
    )
    steps_per_execution: int = setting(
        1, Kind.INT, "train steps per call into the compiled train function", low=1, high=100_000
    )
    elastic_grid: int = setting(3, Kind.INT, "elastic deformation: coarse grid (paper: 3 x 3)",
                                low=1, high=64)  # fmt: skip
    elastic_std_px: float = setting(10.0, Kind.FLOAT, "elastic deformation: displacement std (px)",
                                    low=0.0, high=1000.0)  # fmt: skip
    flip: bool = setting(True, Kind.BOOL, "random flips with the deformation")
    class_balance: bool = setting(True, Kind.BOOL, "w_c: inverse class frequency in the loss")
    border_weight: bool = setting(True, Kind.BOOL, "the paper's border term between objects")
    border_w0: float = setting(10.0, Kind.FLOAT, "border term: w0 (paper: 10)", low=0.0,
                               high=1000.0)  # fmt: skip
    border_sigma_px: float = setting(5.0, Kind.FLOAT, "border term: sigma in px (paper: about 5)",
                                     low=0.0, high=1000.0, low_open=True)  # fmt: skip
    border_max_objects: int = setting(
        8, Kind.INT, "border term: the largest objects per class it considers", low=2, high=256
    )
    train_devices: int = setting(
        0, Kind.INT, "replicas on one machine: the first N GPUs, or N logical CPU devices; 0: "
        "every GPU (one CPU)", low=0, high=64,
    )  # fmt: skip
    train_workers: int = setting(
        1, Kind.INT, "a cluster of N local worker processes (as on Vertex, from TF_CONFIG)", low=1,
        high=64,
    )  # fmt: skip
    warm_start: bool = setting(
        False, Kind.BOOL, "train from the weights of the latest blessed model (same network)"
    )
    training_seed: int = setting(
        0, Kind.INT, "seed of the initial weights, the data order, dropout and the augmentation: "
        "the same seed and precision train the same model on the same machine; 0: fresh each run",
        low=0, high=2**31 - 1,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check(self)
        if self.batch_size % max(self.train_devices, 1) or self.batch_size % self.train_workers:
            raise SettingError(
                "--batch-size", f"{self.batch_size} is the global batch: it must split evenly "
                f"over --train-devices {self.train_devices} and --train-workers "
                f"{self.train_workers}",
            )  # fmt: skip

    def without_steps(self) -> dict[str, Any]:
        """The section but the step counts, which reach the Trainer through TFX's own args."""
        values = dataclasses.asdict(self)
        for name in STEP_FIELDS:
            values.pop(name)
        return values


@dataclass(frozen=True)
class EvaluationConfig:
    """Both Evaluators: what a model must reach to be blessed."""

    mean_iou_threshold: float = setting(0.5, Kind.FLOAT, "blessing: the least mean IoU", low=0.0,
                                        high=1.0)  # fmt: skip
    foreground_iou_threshold: float = setting(
        0.0, Kind.FLOAT, "blessing: the least IoU of every foreground class", low=0.0, high=1.0,
        aliases=("--pet-iou-threshold",),
    )  # fmt: skip
    change_threshold: float = setting(
        -1e-10, Kind.FLOAT, "blessing: the least change against the last blessed model",
        low=-1.0, high=1.0,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class ServingConfig:
    """The exported model's signatures (the Trainer writes them)."""

    max_image_megapixels: float = setting(
        40.0, Kind.FLOAT, "the served model refuses larger images (read from the header)",
        low=0.0, high=1000.0, low_open=True,
    )  # fmt: skip
    serving_default: str = setting(
        "examples", Kind.STR, "what serving_default takes: serialized tf.Examples (TFX's way) or "
        "image bytes (what a Vertex AI endpoint sends)", choices=("examples", "image"),
    )  # fmt: skip

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class RunConfig:
    """The runner: paths, Beam, the cache, the data gates and the report."""

    pipeline_name: str = setting(PIPELINE_NAME, Kind.STR, "the pipeline's name in ML Metadata",
                                 flag="")  # fmt: skip
    output_dir: str = setting("outputs", Kind.PATH, "pipeline root, metadata, models")
    beam_args: tuple[str, ...] = setting(
        IN_MEMORY_BEAM, Kind.ARGS, 'extra Beam flags in one quoted string, e.g. "--runner=..."'
    )
    enable_cache: bool = setting(True, Kind.BOOL, "reuse the outputs of unchanged components",
                                 flag="--cache")  # fmt: skip
    report: bool = setting(True, Kind.BOOL, "write report.html at the end")
    max_skipped_percent: float = setting(
        10.0, Kind.FLOAT, "data gate: the most listed examples that may be skipped (%)", low=0.0,
        high=100.0,
    )  # fmt: skip
    min_eval_examples: int = setting(50, Kind.INT, "data gate: the fewest eval examples", low=1,
                                     high=1_000_000)  # fmt: skip
    allow_anomalies: bool = setting(False, Kind.BOOL, "train even when ExampleValidator objects")
    max_drift: float = setting(
        0.3, Kind.FLOAT, "data gate: the most Jensen-Shannon divergence of a per-image feature "
        "from the previous span", low=0.0, high=1.0,
    )  # fmt: skip
    allow_drift: bool = setting(False, Kind.BOOL, "train even when the new span drifted")
    debug: bool = setting(False, Kind.BOOL, "print the full traceback of a failed run (it is "
                          "always in <output-dir>/logs/)")  # fmt: skip

    def __post_init__(self) -> None:
        check(self)

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


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "transform": TransformConfig,
    "training": TrainingConfig,
    "evaluation": EvaluationConfig,
    "serving": ServingConfig,
    "run": RunConfig,
}
# setting name -> its section
SECTION_OF: dict[str, str] = {
    field.name: section for section, cls in SECTIONS.items() for field, _ in settings_of(cls)
}
