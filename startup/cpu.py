"""What this machine offers for training, read without TensorFlow (so that a command line can
decide before TensorFlow starts): the CPU's instruction flags and model, the cores this process
may use, and oneDNN's kernels on every x86-64 CPU."""

from __future__ import annotations

import os
import platform
from collections.abc import MutableMapping

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def use_onednn_everywhere(
    environ: MutableMapping[str, str] | None = None, machine: str | None = None
) -> bool:
    """Turns on oneDNN's float32 kernels on every x86-64 CPU (before TensorFlow loads); True where
    it asked for them. TensorFlow turns them on by itself only where the CPU has AVX512_VNNI,
    AVX512_BF16, AVX_VNNI or AMX; elsewhere (AMD before Zen 4, Intel before Cascade Lake and
    Alder Lake) it runs Eigen's slower convolutions. A TF_ENABLE_ONEDNN_OPTS already set is kept,
    0 included."""
    environ = os.environ if environ is None else environ
    machine = (platform.machine() if machine is None else machine).lower()
    if machine not in ("x86_64", "amd64") or "TF_ENABLE_ONEDNN_OPTS" in environ:
        return False
    environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
    return True


def _cpuinfo_field(name: str) -> str | None:
    """The first CPU's `name` line of /proc/cpuinfo (None where there is none, e.g. not Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_flags() -> set[str]:
    return set((_cpuinfo_field("flags") or "").split())


def cpu_model() -> str:
    return _cpuinfo_field("model name") or platform.processor()


def usable_cores() -> int:
    """The cores this process may run on (its affinity, where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
