"""The machine a benchmark ran on, recorded beside its numbers (absolute timings only compare
runs on the same machine)."""

from __future__ import annotations

import os
import platform

import tensorflow as tf

from models.training import execution


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def describe() -> dict:
    from tensorflow.python.util import _pywrap_util_port

    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "onednn": _pywrap_util_port.IsMklEnabled(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "cpu_bf16": sorted(execution.cpu_flags() & set(execution.BF16_CPU_FLAGS)),
        "gpus": [gpu.name for gpu in tf.config.list_physical_devices("GPU")],
    }


def write_results(path: str, results: dict) -> None:
    """A benchmark's numbers as JSON under bench/results/ (the folder made if missing)."""
    import json

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
