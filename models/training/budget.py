"""How many steps the Trainer takes: `--train-steps`, or as many as fit `--train-minutes` here
(at most `--train-steps`): the training budget's two settings, and nothing else.

A time budget makes a run take the same time on machines of different speeds, with the steps each
can do. The step count is a variable of the model (`horizon`), so that the cosine schedule and the
stop follow it and a resumed run restores it from its checkpoint: a first estimate comes from the
step time the execution plan measured, and after each epoch the measured rate of the real run
(input pipeline, validation and checkpoints included) corrects it for the time that is left.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import tensorflow as tf

keras = tf.keras
HORIZON_ATTRIBUTE = "train_horizon"  # the model's variable: the step training ends at
SPENT_ATTRIBUTE = "train_seconds"  # the model's variable: seconds of training so far
# The first estimate's allowance for what the probe does not time: the input pipeline on the same
# cores, validation, checkpoints.
FIRST_ESTIMATE_OVERHEAD = 1.3
MIN_STEPS = 10


@dataclass(frozen=True)
class TrainingTime:
    """`minutes` of training (0: no time limit, `--train-steps` alone)."""

    minutes: float

    @property
    def timed(self) -> bool:
        return self.minutes > 0

    def seconds_left(self, spent: float) -> float | None:
        """Seconds of training left after `spent` of them (None: untimed)."""
        return max(60.0 * self.minutes - spent, 0.0) if self.timed else None


def horizon_of(model: keras.Model) -> tf.Variable:
    return getattr(model, HORIZON_ATTRIBUTE)


def add_budget_variables(model: keras.Model, steps: int) -> None:
    """The horizon and the seconds spent, tracked by the model so checkpoints hold them."""
    setattr(model, HORIZON_ATTRIBUTE, tf.Variable(steps, trainable=False, dtype=tf.int64))
    setattr(model, SPENT_ATTRIBUTE, tf.Variable(0.0, trainable=False, dtype=tf.float64))


def first_estimate(
    train_steps: int, limits: TrainingTime, seconds_per_step: float | None
) -> tuple[int, str]:
    """(steps, why): `train_steps`, or the steps that fit the training time at the measured step
    time."""
    seconds = limits.seconds_left(0.0)
    if seconds is None or not seconds_per_step:
        return train_steps, f"{train_steps} steps"
    fit = int(seconds / (seconds_per_step * FIRST_ESTIMATE_OVERHEAD))
    steps = max(MIN_STEPS, min(train_steps, fit))
    why = (
        f"about {steps} steps at {1000 * seconds_per_step:.0f} ms/step measured here fit "
        f"--train-minutes {limits.minutes:g} (at most --train-steps {train_steps}); corrected "
        "after each epoch"
    )
    return steps, why


def chief_steps(strategy: tf.distribute.Strategy, steps: int) -> int:
    """The first replica's step count on every replica: each worker of a cluster times its own
    steps, and workers whose horizons differ by one step wait on each other forever."""
    if strategy.num_replicas_in_sync <= 1:
        return steps

    def first_replica_only() -> tf.Tensor:
        first = tf.distribute.get_replica_context().replica_id_in_sync_group == 0
        return tf.where(first, tf.constant(float(steps)), tf.constant(0.0))

    total = strategy.reduce(
        tf.distribute.ReduceOp.SUM, strategy.run(first_replica_only), axis=None
    )  # fmt: skip
    return int(round(float(total.numpy())))


class CosineToHorizon(keras.optimizers.schedules.LearningRateSchedule):
    """Cosine decay from `initial` to `initial * final_fraction` at the step the horizon holds
    (Keras' CosineDecay with its decay steps read from a variable at every step)."""

    def __init__(self, initial: float, horizon: tf.Variable, final_fraction: float) -> None:
        super().__init__()
        self.initial = initial
        self.horizon = horizon
        self.final_fraction = final_fraction

    def __call__(self, step):
        horizon = tf.maximum(tf.cast(self.horizon, tf.float32), 1.0)
        done = tf.minimum(tf.cast(step, tf.float32), horizon) / horizon
        cosine = 0.5 * (1.0 + tf.cos(math.pi * done))
        return self.initial * (self.final_fraction + (1.0 - self.final_fraction) * cosine)

    def get_config(self) -> dict:
        return {"initial": self.initial, "final_fraction": self.final_fraction}


class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """`rate` (a number or a schedule) scaled from 0 up to 1 over the first `fraction` of the
    horizon's steps: a warm start's new optimizer (Adam's first steps move every weight by about
    the rate) would otherwise knock the trained weights about before it has its moments."""

    def __init__(self, rate, horizon: tf.Variable, fraction: float) -> None:
        super().__init__()
        self.rate, self.horizon, self.fraction = rate, horizon, fraction

    def __call__(self, step):
        base = self.rate(step) if callable(self.rate) else self.rate
        ramp = tf.maximum(tf.cast(self.horizon, tf.float32) * self.fraction, 1.0)
        return base * tf.minimum((tf.cast(step, tf.float32) + 1.0) / ramp, 1.0)

    def get_config(self) -> dict:
        return {"fraction": self.fraction}


class StopAtHorizon(keras.callbacks.Callback):
    """Ends training once the optimizer has taken as many steps as the horizon says.

    fit() runs whole epochs of checkpoint_every_steps, so without this a step count that is not a
    multiple of it would be rounded up to one (2,500 steps in epochs of 550 ran 2,750). The check
    runs after each compiled call, so with steps_per_execution > 1 the last call completes; the
    cut epoch is still validated and checkpointed.
    """

    def on_train_batch_end(self, batch, logs=None) -> None:
        if int(self.model.optimizer.iterations.numpy()) >= int(horizon_of(self.model).numpy()):
            self.model.stop_training = True


class TimeBudget(keras.callbacks.Callback):
    """After each epoch, sets the horizon to the steps done plus those that fit the time left, at
    the rate measured since this run's training started (at most `max_steps`). The seconds spent
    are a model variable too, so a resumed run spends only what is left of `train_minutes`."""

    def __init__(self, limits: TrainingTime, max_steps: int) -> None:
        super().__init__()
        self.limits = limits
        self.max_steps = max_steps

    def on_train_begin(self, logs=None) -> None:
        self._started = time.monotonic()
        self._first_step = int(self.model.optimizer.iterations.numpy())
        self._spent_before = float(getattr(self.model, SPENT_ATTRIBUTE).numpy())

    def on_epoch_end(self, epoch, logs=None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        elapsed = time.monotonic() - self._started
        getattr(self.model, SPENT_ATTRIBUTE).assign(self._spent_before + elapsed)
        done = step - self._first_step
        if done <= 0 or elapsed <= 0 or self.model.stop_training:
            return
        left = self.limits.seconds_left(self._spent_before + elapsed) or 0.0
        steps = int(min(self.max_steps, max(step + left * done / elapsed, step, MIN_STEPS)))
        steps = chief_steps(self.model.distribute_strategy, steps)
        horizon = horizon_of(self.model)
        if steps != int(horizon.numpy()):
            logging.info(
                "petunet: training budget: %d steps in all (%.0f ms/step measured, %.0f s left)",
                steps,
                1000 * elapsed / done,
                left,
            )
            horizon.assign(steps)
        if steps <= step:  # no time for another step: end here, not after one more call
            self.model.stop_training = True
