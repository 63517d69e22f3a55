"""TFX's Transform with petunet's executor (see executor.py)."""

from __future__ import annotations

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.transform import executor


class Transform(tfx.components.Transform):
    """Used exactly like tfx.components.Transform."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
