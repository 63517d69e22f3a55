"""AtomicPusher: TFX's Pusher with petunet's executor (atomic, no duplicate versions)."""

from __future__ import annotations

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.pusher import executor


class AtomicPusher(tfx.components.Pusher):
    """Used exactly like tfx.components.Pusher with a filesystem push destination."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
