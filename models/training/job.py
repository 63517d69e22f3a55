"""What one training needs, as plain data: TFX's fn_args without the live objects, so that worker
processes can run the same job."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from core.config import TrainerConfig


@dataclass(frozen=True)
class TrainingJob:
    """What one training needs, as plain data: TFX's fn_args without the live objects, so that
    worker processes can run the same job."""

    train_files: list[str]
    eval_files: list[str]
    transform_output: str
    serving_model_dir: str
    model_run_dir: str
    custom_config: dict[str, Any]
    train_steps: int
    eval_steps: int
    base_model: str | None = None  # the blessed model a warm start begins from

    @classmethod
    def from_fn_args(cls, fn_args: Any) -> TrainingJob:
        return cls(
            base_model=getattr(fn_args, "base_model", None) or None,
            train_files=list(fn_args.train_files),
            eval_files=list(fn_args.eval_files),
            transform_output=fn_args.transform_output,
            serving_model_dir=fn_args.serving_model_dir,
            model_run_dir=fn_args.model_run_dir,
            custom_config=dict(fn_args.custom_config or {}),
            train_steps=int(fn_args.train_steps),
            eval_steps=int(fn_args.eval_steps),
        )

    @property
    def config(self) -> TrainerConfig:
        return TrainerConfig.from_custom_config(
            self.custom_config, self.train_steps, self.eval_steps
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainingJob:
        return cls(**json.loads(text))
