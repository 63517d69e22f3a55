"""Timing train steps: one compiled-train-function stepper and one timing loop, shared by the
precision probe of the execution plan and the training benchmarks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import tensorflow as tf

from core import contracts
from core.config import TrainerConfig

keras = tf.keras


def random_batch(config: TrainerConfig) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """A batch of the training input's shapes and dtypes (probes, benchmarks)."""
    tiles = tf.random.uniform(
        [config.training.batch_size, config.tile_size, config.tile_size, config.input_channels],
        maxval=256,
        dtype=tf.int32,
    )
    labels = tf.random.uniform(
        [config.training.batch_size, config.output_size, config.output_size],
        maxval=config.num_classes,
        dtype=tf.int64,
    )
    targets = {
        contracts.LABEL_KEY: labels,
        contracts.WEIGHTS_KEY: tf.ones(labels.shape, tf.float32),
    }
    return tf.cast(tiles, tf.uint8), targets


def step_function(model: keras.Model, batch) -> Callable[[], dict[str, tf.Tensor]]:
    """One call of Keras' own compiled train function on `batch`: as many optimizer steps as the
    model was compiled with (`steps_per_execution`, 1 for a default compile)."""
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    train_function = model.make_train_function()
    return lambda: train_function(iterator)


def time_steps(step: Callable[[], object], steps: int, steps_per_call: int = 1) -> float:
    """Seconds per train step over at least `steps` steps of `step`, which runs `steps_per_call`
    steps per call (whole calls only), including the wait for the last call's result."""
    calls = math.ceil(steps / steps_per_call)
    started = time.perf_counter()
    for _ in range(calls):
        result = step()
    tf.nest.flatten(result)[0].numpy()  # wait for the last call
    return (time.perf_counter() - started) / (calls * steps_per_call)


def seconds_per_step(
    model: keras.Model, config: TrainerConfig, steps: int = 3, repeats: int = 2
) -> float:
    """Wall time of one train step of `model` on random data, after one warm-up (tracing) call:
    the best of `repeats` timings of `steps` steps, so that a passing load spike does not decide.
    Calls Keras' compiled train function directly: `fit` adds a per-call setup cost that can hide
    the difference between two precisions in a few steps. With
    steps_per_execution > 1, each call runs that many steps: at least `steps` steps are timed."""
    step = step_function(model, random_batch(config))
    float(step()["loss"])
    spc = config.training.steps_per_execution
    return min(time_steps(step, steps, spc) for _ in range(repeats))
