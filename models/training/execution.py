"""What the Trainer runs on: devices, distribution strategy, precision and XLA, chosen and logged.

On GPUs the rule is known: bfloat16 from Ampere on, float16 with loss scaling before, XLA on.
On CPUs it is not: with AVX512-BF16, mixed_bfloat16 beats float32 for wide layers and loses for
narrow ones, and XLA is slower for this network. So on a bfloat16-capable CPU "auto" times a few
train steps of the actual model in both precisions and keeps the faster; XLA stays off on CPUs.

Replicas: a cluster named by TF_CONFIG (Vertex AI, Kubeflow, the local cluster) trains with
MultiWorkerMirroredStrategy; several GPUs, or several logical CPU devices standing in for them,
with MirroredStrategy; the batch size is the global batch, split over all replicas.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf

from core.config import TrainerConfig
from core.settings import SettingError
from startup import patches
from startup.cpu import BF16_CPU_FLAGS, cpu_flags


@dataclass(frozen=True)
class ExecutionPlan:
    strategy: tf.distribute.Strategy
    precision: str
    jit_compile: bool
    device: str
    reason: str
    num_workers: int = 1
    is_chief: bool = True
    task_index: int = 0
    seconds_per_step: float | None = None  # measured for the chosen precision, if it was


def gpus_visible() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def _gpu_compute_capability(gpu: tf.config.PhysicalDevice) -> tuple[int, int]:
    details = tf.config.experimental.get_device_details(gpu)
    return tuple(details.get("compute_capability", (0, 0)))  # type: ignore[return-value]


def _op_error_cause(error: Exception) -> str:
    """The line of a TensorFlow op error that says what failed: a graph error's message starts with
    "Graph execution error:" and the stack of the node, and names the cause after them."""
    lines = [line.strip() for line in (getattr(error, "message", "") or str(error)).splitlines()]
    for line in lines:
        if re.search(r"could not|cannot|failed|unimplemented|not supported", line, re.I) and not (
            line.startswith(("Graph execution error", "File ", "[[", "Detected at node"))
        ):
            return line
    useful = [line for line in lines if line and not line.startswith("Graph execution error")]
    return (useful or [type(error).__name__])[0]


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
        cause = _op_error_cause(error)
        return "float32", f"CPU has {bf16} but a mixed_bfloat16 step failed ({cause[:160]})"
    fastest = min(timings, key=timings.get)
    measured = ", ".join(f"{p} {1000 * s:.0f} ms/step" for p, s in timings.items())
    return fastest, f"CPU has {bf16}; measured {measured}"


def choose_jit(requested: str, gpus: list) -> tuple[bool, str]:
    if requested != "auto":
        return requested == "on", "set in the config"
    if gpus:
        return True, "XLA fuses the convolutions' epilogues on GPUs"
    return False, "XLA measured slower for this network on CPU"


def cluster_spec(environ: dict[str, str] | None = None) -> dict | None:
    """The cluster TF_CONFIG names (Vertex AI, Kubeflow's training operator, the local cluster)
    when it holds more than one worker; None for a single process."""
    text = (os.environ if environ is None else environ).get("TF_CONFIG")
    if not text:
        return None
    try:
        config = json.loads(text)
        cluster = config["cluster"]
        task = config["task"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"TF_CONFIG is not a cluster description ({error}): {text[:200]}"
        ) from None
    members = sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))
    if members <= 1:
        return None
    return {"cluster": cluster, "task": task, "workers": members}


def is_chief(spec: dict | None) -> tuple[bool, int]:
    """(whether this task exports and writes the summary, its index): the `chief` task, or worker
    0 where the cluster has none (MultiWorkerMirroredStrategy's rule)."""
    if spec is None:
        return True, 0
    kind, index = spec["task"].get("type", "worker"), int(spec["task"].get("index", 0))
    if kind == "chief":
        return True, 0
    has_chief = bool(spec["cluster"].get("chief"))
    return (not has_chief and index == 0), index


def logical_cpus(count: int) -> bool:
    """Splits the CPU into `count` logical devices (stand-ins for GPUs); False where TensorFlow
    has already started, when only a fresh process can have them."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current and len(current) == count:
        return True
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError:  # "Virtual devices cannot be modified after being initialized"
        return False
    return True


def strategy_devices(devices: int, gpus: list) -> list[str]:
    """The GPUs a MirroredStrategy spans: the first `devices`, or all of them with 0."""
    if devices > len(gpus):
        raise SettingError("--train-devices", f"{devices}: this machine has {len(gpus)} GPU(s)")
    return [f"/gpu:{i}" for i in range(devices or len(gpus))]


def choose_strategy(
    devices: int, gpus: list, spec: dict | None
) -> tuple[tf.distribute.Strategy, str]:
    """(strategy, device description). A cluster: MultiWorkerMirroredStrategy over its workers
    (each with its GPUs); GPUs: MirroredStrategy over the first `devices` (all with 0); CPU with
    devices > 1: MirroredStrategy over that many logical CPU devices (the code path of as many
    GPUs); else the default strategy (BackupAndRestore refuses OneDeviceStrategy)."""
    if spec is not None:
        strategy: tf.distribute.Strategy = tf.distribute.MultiWorkerMirroredStrategy()
        per_worker = f"{len(gpus)} GPU(s)" if gpus else "CPU"
        return strategy, f"{spec['workers']} workers x {per_worker}"
    if gpus:
        names = strategy_devices(devices, gpus)
        return tf.distribute.MirroredStrategy(names), f"{len(names)} GPU(s)"
    if devices > 1:
        if not logical_cpus(devices):
            raise RuntimeError(
                f"--train-devices {devices}: TensorFlow has started in this process; logical CPU "
                "devices need a process of their own (models/training/cluster.py)"
            )
        names = [d.name for d in tf.config.list_logical_devices("CPU")][:devices]
        return tf.distribute.MirroredStrategy(names), f"{devices} logical CPU devices"
    return tf.distribute.get_strategy(), "CPU"


def onednn_kernels() -> str:
    """Whose CPU kernels TensorFlow runs in this process, for the plan's line: oneDNN's, which
    `startup.cpu.use_onednn_everywhere` asks for on x86-64, or Eigen's."""
    if patches.onednn_enabled():
        return "oneDNN kernels"
    return "Eigen kernels (TF_ENABLE_ONEDNN_OPTS=1 turns on oneDNN's)"


def plan_execution(
    precision: str = "auto",
    jit_compile: str = "auto",
    probe: Callable[[str], float] | None = None,
    devices: int = 0,
) -> ExecutionPlan:
    """Strategy (cluster, GPUs or CPU), precision and XLA for this machine; logs the choice."""
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    spec = cluster_spec()
    strategy, device = choose_strategy(devices, gpus, spec)
    policy, why_policy = choose_precision(precision, gpus, cpu_flags(), probe)
    jit, why_jit = choose_jit(jit_compile, gpus)
    reason = f"precision {policy} ({why_policy}); XLA {'on' if jit else 'off'} ({why_jit})"
    if not gpus:
        reason += f"; {onednn_kernels()}"
    chief, index = is_chief(spec)
    replicas = strategy.num_replicas_in_sync
    logging.info("petunet trainer on %s (%d replica(s)): %s", device, replicas, reason)
    return ExecutionPlan(
        strategy,
        policy,
        jit,
        device,
        reason,
        num_workers=spec["workers"] if spec else 1,
        is_chief=chief,
        task_index=index,
    )


def plan_for(config: TrainerConfig) -> ExecutionPlan:
    """The Trainer's execution plan for `config`; where precision is "auto" on a bfloat16 CPU,
    it is decided by timing this config's model (with the XLA setting the plan will use), and
    the chosen precision's step time is kept (a time budget starts from it)."""
    settings = config.training
    jit_rule, _ = choose_jit(settings.jit_compile, tf.config.list_physical_devices("GPU"))
    timings: dict[str, float] = {}

    def probe(policy: str) -> float:
        from models.training.model import build_training_model
        from models.training.timing import seconds_per_step

        model = build_training_model(config, tf.distribute.get_strategy(), policy, jit_rule)
        timings[policy] = seconds_per_step(model, config)
        return timings[policy]

    plan = plan_execution(settings.precision, settings.jit_compile, probe, settings.train_devices)
    if plan.strategy.num_replicas_in_sync > 1 or plan.num_workers > 1:
        return plan  # the probe timed one device: no step time for the whole strategy
    return dataclasses.replace(plan, seconds_per_step=timings.get(plan.precision))
