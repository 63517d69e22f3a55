"""What this machine's CPU offers for training, read without TensorFlow (so that a command line can
decide before the pipeline starts): its instruction flags, and whether oneDNN may use bfloat16."""

from __future__ import annotations

import os
from collections.abc import Mapping

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# oneDNN's ISA caps (ONEDNN_MAX_CPU_ISA) that keep its bfloat16 convolutions: those naming a
# bfloat16, AMX, FP16 or AVX10 level, and ALL; AVX2 or AVX512_CORE leave float32 only.
_BF16_ISA_WORDS = ("BF16", "AMX", "FP16", "AVX10", "ALL")


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


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
