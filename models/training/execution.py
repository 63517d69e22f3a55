"""What the Trainer runs on: devices, distribution strategy, precision and XLA, chosen and logged.

On GPUs the rule is known: bfloat16 from Ampere on, float16 with loss scaling before, XLA on.
On CPUs it is not: with AVX512-BF16, mixed_bfloat16 beats float32 for wide layers (the paper's
64 filters) and loses for narrow ones (8 filters), and XLA was measured at about 0.5x for this
network (docs/PERFORMANCE.md). So on a bfloat16-capable CPU "auto" times a few train steps of the
actual model in both precisions and keeps the faster; XLA stays off on CPUs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf

from models.config import TrainerConfig

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class ExecutionPlan:
    strategy: tf.distribute.Strategy
    precision: str
    jit_compile: bool
    device: str
    reason: str


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _gpu_compute_capability(gpu: tf.config.PhysicalDevice) -> tuple[int, int]:
    details = tf.config.experimental.get_device_details(gpu)
    return tuple(details.get("compute_capability", (0, 0)))  # type: ignore[return-value]


def choose_precision(
    requested: str,
    gpus: list,
    flags: set[str],
    probe: Callable[[str], float] | None = None,
) -> tuple[str, str]:
    """(policy, why). `requested` other than "auto" is honoured as given.

    probe: seconds per train step of the real model under a policy; used where the hardware
    alone does not tell which precision is faster (bfloat16-capable CPUs).
    """
    if requested != "auto":
        return requested, "set in the config"
    if gpus:
        capability = min(_gpu_compute_capability(gpu) for gpu in gpus)
        if capability >= (8, 0):
            return "mixed_bfloat16", f"GPU compute capability {capability} has bfloat16"
        if capability >= (7, 0):
            return "mixed_float16", f"GPU compute capability {capability}: float16 tensor cores"
        return "float32", f"GPU compute capability {capability}: no fast half precision"
    bf16 = sorted(flags & set(BF16_CPU_FLAGS))
    if not bf16:
        return "float32", "CPU without bfloat16 instructions"
    if probe is None:
        return "mixed_bfloat16", f"CPU has {bf16}"
    timings = {"float32": probe("float32")}
    try:
        timings["mixed_bfloat16"] = probe("mixed_bfloat16")
    except tf.errors.OpError as error:  # the flags promise kernels this TensorFlow cannot build
        first_line = (error.message or type(error).__name__).strip().splitlines()[0]
        return "float32", f"CPU has {bf16} but a mixed_bfloat16 step failed ({first_line[:160]})"
    fastest = min(timings, key=timings.get)
    measured = ", ".join(f"{p} {1000 * s:.0f} ms/step" for p, s in timings.items())
    return fastest, f"CPU has {bf16}; measured {measured}"


def choose_jit(requested: str, gpus: list) -> tuple[bool, str]:
    if requested != "auto":
        return requested == "on", "set in the config"
    if gpus:
        return True, "XLA fuses the convolutions' epilogues on GPUs"
    return False, "XLA measured slower for this network on CPU"


def plan_execution(
    precision: str = "auto",
    jit_compile: str = "auto",
    probe: Callable[[str], float] | None = None,
) -> ExecutionPlan:
    """Strategy over the visible GPUs (default one on CPU), precision and XLA; logs the choice."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        strategy: tf.distribute.Strategy = tf.distribute.MirroredStrategy()
        device = f"{len(gpus)} GPU(s)"
    else:
        # The default (single-device) strategy: BackupAndRestore refuses OneDeviceStrategy.
        strategy = tf.distribute.get_strategy()
        device = "CPU"
    policy, why_policy = choose_precision(precision, gpus, cpu_flags(), probe)
    jit, why_jit = choose_jit(jit_compile, gpus)
    reason = f"precision {policy} ({why_policy}); XLA {'on' if jit else 'off'} ({why_jit})"
    logging.info("petunet trainer on %s: %s", device, reason)
    return ExecutionPlan(strategy, policy, jit, device, reason)


def plan_for(config: TrainerConfig) -> ExecutionPlan:
    """The Trainer's execution plan for `config`; where precision is "auto" on a bfloat16 CPU,
    it is decided by timing this config's model (with the XLA setting the plan will use)."""
    settings = config.training
    jit_rule, _ = choose_jit(settings.jit_compile, tf.config.list_physical_devices("GPU"))

    def probe(policy: str) -> float:
        from models.training.model import build_training_model
        from models.training.timing import seconds_per_step

        model = build_training_model(config, tf.distribute.get_strategy(), policy, jit_rule)
        return seconds_per_step(model, config)

    return plan_execution(settings.precision, settings.jit_compile, probe)
