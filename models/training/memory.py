"""How much memory a training step needs, from the network's own shapes, and whether it fits.

A step keeps every layer's output of the forward pass for the backward pass; those activations
grow with the batch and the tile and are most of the memory at the paper's tile. The weights,
their gradients and the optimizer's slots are the rest. The estimate is checked against
TensorFlow's peak on CPU (tests/test_memory.py). A batch whose estimate does
not fit the device (the GPU's memory, or the RAM this process may use) is refused before training
with the numbers, instead of failing an hour in or being killed.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import tensorflow as tf

from core import errors

keras = tf.keras
# The backward pass holds gradients of some activations while it runs: peak memory grows by about
# this multiple of the stored activations per image, on top of a runtime's fixed share (traced
# functions, oneDNN's workspaces, the allocator's pools), both taken from TensorFlow's peak on CPU.
# The multiple sits between the CPUs measured, whose oneDNN kernels differ (AVX2 only, and
# AVX512 with bfloat16); the fixed share is on the safe side: it refuses a batch that would fit,
# never accepts one that does not.
BACKWARD_FACTOR = 1.36
RUNTIME_BYTES = 320 << 20
OPTIMIZER_SLOTS = {"sgd": 1, "adam": 2}  # momentum; first and second moments
GIB = 1 << 30


@dataclass(frozen=True)
class StepMemory:
    activations_per_image: int  # bytes stored by the forward pass for one image
    fixed: int  # bytes of weights, gradients and optimizer slots

    def for_batch(self, images: int) -> int:
        return self.fixed + int(BACKWARD_FACTOR * images * self.activations_per_image)

    def largest_batch(self, available: int) -> int:
        per_image = int(BACKWARD_FACTOR * self.activations_per_image)
        return max(0, (available - self.fixed) // per_image)


def _activation_bytes(layer: keras.layers.Layer) -> int:
    shape = layer.output.shape
    dtype = tf.as_dtype(getattr(layer, "compute_dtype", None) or layer.output.dtype)
    if dtype == tf.uint8:
        dtype = tf.float32  # the input is normalised to floats at once
    return math.prod(int(d) for d in shape[1:]) * dtype.size


def step_memory(unet: keras.Model, optimizer: str) -> StepMemory:
    """The estimate for a built U-Net (its layers' output shapes and dtypes)."""
    activations = sum(_activation_bytes(layer) for layer in unet.layers)
    weights = sum(math.prod(v.shape) * 4 for v in unet.trainable_variables)  # float32 masters
    slots = OPTIMIZER_SLOTS.get(optimizer, 2)
    return StepMemory(activations, RUNTIME_BYTES + weights * (2 + slots))


def available_bytes(gpus: list) -> tuple[int, str]:
    """(bytes a training step may use, what they are): the first GPU's memory, or the RAM this
    process may use (the cgroup's limit where there is one, else what the system has free)."""
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        memory = details.get("memory_limit") or details.get("device_memory_size")
        if memory:
            return int(memory), f"GPU {details.get('device_name', '0')}"
    import psutil

    free = psutil.virtual_memory().available
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < free:
            used = psutil.Process(os.getpid()).memory_info().rss
            return max(int(text) - used, 0), "this process's memory limit (cgroup)"
    return free, "free RAM"


def check_fits(estimate: StepMemory, per_replica_batch: int, gpus: list) -> None:
    """MachineProblem (exit code 3) when the batch cannot fit, with the numbers and the largest
    batch that would."""
    need = estimate.for_batch(per_replica_batch)
    available, what = available_bytes(gpus)
    if need > available:
        raise errors.MachineProblem(
            f"a training step at batch {per_replica_batch} per device needs about "
            f"{need / GIB:.1f} GiB, and {what} has {available / GIB:.1f} GiB; "
            f"the largest batch that fits is about {estimate.largest_batch(available)} "
            "(--batch-size is the global batch: split over --train-devices and --train-workers)"
        )


def replicas_expected(devices: int, workers: int) -> int:
    """The replicas a plan will have: --train-devices (or every GPU, or one CPU) per worker."""
    gpus = len(tf.config.list_physical_devices("GPU"))
    return max(devices or gpus or 1, 1) * max(workers, 1)


def check_before_training(config, precision: str, replicas: int) -> None:
    """The check from the configuration alone, before anything runs a step (the precision probe
    included): the bare network at `precision`, the global batch split over `replicas`."""
    from models.network.unet import build_unet

    settings = config.training
    unet = build_unet(
        config.tile_size,
        config.depth,
        settings.base_filters,
        config.input_channels,
        num_classes=config.num_classes,
        dtype_policy=precision,
    )
    check_fits(
        step_memory(unet, settings.optimizer),
        max(settings.batch_size // replicas, 1),
        tf.config.list_physical_devices("GPU"),
    )
