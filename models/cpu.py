"""What this machine offers for training, read without TensorFlow (so that a command line can
decide before the pipeline starts): the CPU's instruction flags, whether oneDNN may use bfloat16,
how fast float32 matrix products run, and how many NVIDIA GPUs the driver lists."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, MutableMapping

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# oneDNN's ISA caps (ONEDNN_MAX_CPU_ISA) that keep its bfloat16 convolutions: those naming a
# bfloat16, AMX, FP16 or AVX10 level, and ALL; AVX2 or AVX512_CORE leave float32 only.
_BF16_ISA_WORDS = ("BF16", "AMX", "FP16", "AVX10", "ALL")


def use_onednn_everywhere(
    environ: MutableMapping[str, str] | None = None, machine: str | None = None
) -> bool:
    """Turns on oneDNN's float32 kernels on every x86-64 CPU (before TensorFlow loads); True where
    it asked for them. TensorFlow turns them on by itself only where the CPU has AVX512_VNNI,
    AVX512_BF16, AVX_VNNI or AMX; elsewhere (AMD before Zen 4, Intel before Cascade Lake and
    Alder Lake) it runs Eigen's convolutions, whose train step of the demo's network took
    2.4-2.9x as long (docs/PERFORMANCE.md). A TF_ENABLE_ONEDNN_OPTS already set is kept, 0
    included."""
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


def bfloat16_training(
    flags: set[str] | None = None, environ: Mapping[str, str] | None = None
) -> tuple[bool, str]:
    """(whether bfloat16 training can be fast here, why): the CPU's flags and oneDNN's ISA cap."""
    flags = cpu_flags() if flags is None else flags
    environ = os.environ if environ is None else environ
    found = sorted(flags & set(BF16_CPU_FLAGS))
    if not found:
        return False, "this CPU has neither avx512_bf16 nor amx_bf16"
    cap = environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if cap and not any(word in cap for word in _BF16_ISA_WORDS):
        return False, f"ONEDNN_MAX_CPU_ISA={cap} leaves oneDNN without bfloat16 kernels"
    return True, f"this CPU has {found}"


def float32_gflops(size: int = 768, repeats: int = 20) -> float:
    """This machine's float32 matrix-product rate (GFLOP/s, NumPy): how fast float32 training can
    be where bfloat16 is not, before TensorFlow starts. One core's best of `repeats` products
    (about 0.25 s), times the cores this process may use: a product on every core runs at the pace
    of the busiest one, and on a 2-core VM it read 92-179 GFLOP/s from run to run where one core
    read 72-89 (docs/PERFORMANCE.md)."""
    import time

    import numpy as np
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    best = float("inf")
    with threadpool_limits(limits=1, user_api="blas"):
        a @ b
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9 * usable_cores()


def usable_cores() -> int:
    """The cores this process may run on (its affinity, where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def nvidia_gpus(driver_dir: str = "/proc/driver/nvidia/gpus") -> int:
    """How many NVIDIA GPUs the driver lists (0 without the driver), read without TensorFlow."""
    try:
        return len(os.listdir(driver_dir))
    except OSError:
        return 0
