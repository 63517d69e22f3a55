"""Evaluator: TFX's Evaluator, judging without a baseline when the baseline artifact holds no
model (ServedModel before anything was pushed), as it does when a resolver finds none."""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx import v1 as tfx
from tfx.components.evaluator import executor as tfx_evaluator
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs

from components.served_model.component import has_model


class Executor(tfx_evaluator.Executor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        key = standard_component_specs.BASELINE_MODEL_KEY
        baseline = [model for model in input_dict.get(key, []) if has_model(model)]
        super().Do({**input_dict, key: baseline}, output_dict, exec_properties)


class Evaluator(tfx.components.Evaluator):
    """Used exactly like tfx.components.Evaluator."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
