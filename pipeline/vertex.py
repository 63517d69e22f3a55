"""The Trainer as a Vertex AI custom training job: machine, accelerators and worker pools.

TFX's `google_cloud_ai_platform.Trainer` runs the same run_fn in a Vertex AI CustomJob: the first
worker pool is the chief (one replica, which exports the model), the second holds the other
workers; Vertex AI gives every replica a TF_CONFIG naming them all, from which the Trainer makes a
MultiWorkerMirroredStrategy (models/training/execution.py), each worker over its own GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.settings import SettingError


@dataclass(frozen=True)
class VertexTraining:
    project: str
    region: str
    image: str
    machine_type: str = "n1-standard-8"
    accelerator_type: str | None = None  # e.g. NVIDIA_TESLA_T4, NVIDIA_L4, NVIDIA_A100_80GB
    accelerator_count: int = 0
    replicas: int = 1

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise SettingError("--trainer-replicas", f"must be at least 1, got {self.replicas}")
        if (self.accelerator_type is None) != (self.accelerator_count == 0):
            raise SettingError("--trainer-accelerator", "takes TYPE:COUNT, e.g. NVIDIA_L4:1")

    @classmethod
    def parse_accelerator(cls, text: str | None) -> tuple[str | None, int]:
        if not text:
            return None, 0
        kind, _, count = text.partition(":")
        if not kind or not count.isdigit() or int(count) < 1:
            raise SettingError("--trainer-accelerator", f"takes TYPE:COUNT, got {text!r}")
        return kind, int(count)

    def worker_pool_specs(self) -> list[dict[str, Any]]:
        machine: dict[str, Any] = {"machine_type": self.machine_type}
        if self.accelerator_type:
            machine["accelerator_type"] = self.accelerator_type
            machine["accelerator_count"] = self.accelerator_count
        pool = {"machine_spec": machine, "container_spec": {"image_uri": self.image}}
        pools = [{**pool, "replica_count": 1}]  # the chief
        if self.replicas > 1:
            pools.append({**pool, "replica_count": self.replicas - 1})
        return pools

    def custom_config(self) -> dict[str, Any]:
        """The keys TFX's Vertex AI Trainer reads from custom_config."""
        from tfx.v1.extensions import google_cloud_ai_platform as vertex

        return {
            vertex.ENABLE_VERTEX_KEY: True,
            vertex.VERTEX_REGION_KEY: self.region,
            vertex.TRAINING_ARGS_KEY: {
                "project": self.project,
                "job_spec": {"worker_pool_specs": self.worker_pool_specs()},
            },
        }
