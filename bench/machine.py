"""The machine a benchmark ran on, recorded beside its numbers (absolute timings only compare
runs on the same machine)."""

from __future__ import annotations

import os
import platform

import tensorflow as tf

from startup import cpu, patches


def describe() -> dict:
    return {
        "platform": platform.platform(),
        "cpu": cpu.cpu_model(),
        "cpus": os.cpu_count(),
        "onednn": patches.onednn_enabled(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "cpu_bf16": sorted(cpu.cpu_flags() & set(cpu.BF16_CPU_FLAGS)),
        "gpus": [gpu.name for gpu in tf.config.list_physical_devices("GPU")],
    }


def write_results(path: str, results: dict) -> None:
    """A benchmark's numbers as JSON at `path` (the folder made if missing)."""
    import json

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
