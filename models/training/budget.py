"""How many steps the Trainer takes: `train_steps`, or as many as fit `train_minutes` here.

The same demo run takes 7 minutes on a CPU with bfloat16 and 30 without; a time budget makes it
take the same time on both, with the steps this machine can do. The step count is a variable of the
model (`horizon`), so that the cosine schedule and the stop follow it and a resumed run restores it
from its checkpoint: a first estimate comes from the step time the execution plan measured, and
after each epoch the measured rate of the real run (input pipeline, validation and checkpoints
included) corrects it for the time that is left.
"""

from __future__ import annotations

import logging
import math
import time

import tensorflow as tf

keras = tf.keras
HORIZON_ATTRIBUTE = "train_horizon"  # the model's variable: the step training ends at
SPENT_ATTRIBUTE = "train_seconds"  # the model's variable: seconds of training so far
# The first estimate's allowance for what the probe does not time: the input pipeline on the same
# cores, validation, checkpoints (the demo run's real steps took 1.2-1.3x the probe's).
FIRST_ESTIMATE_OVERHEAD = 1.3
MIN_STEPS = 10


def horizon_of(model: keras.Model) -> tf.Variable:
    return getattr(model, HORIZON_ATTRIBUTE)


def add_budget_variables(model: keras.Model, steps: int) -> None:
    """The horizon and the seconds spent, tracked by the model so checkpoints hold them."""
    setattr(model, HORIZON_ATTRIBUTE, tf.Variable(steps, trainable=False, dtype=tf.int64))
    setattr(model, SPENT_ATTRIBUTE, tf.Variable(0.0, trainable=False, dtype=tf.float64))


def first_estimate(
    train_steps: int, train_minutes: float, seconds_per_step: float | None
) -> tuple[int, str]:
    """(steps, why): `train_steps`, or the steps that fit the budget at the measured step time."""
    if train_minutes <= 0 or not seconds_per_step:
        return train_steps, f"{train_steps} steps"
    fit = int(60 * train_minutes / (seconds_per_step * FIRST_ESTIMATE_OVERHEAD))
    steps = max(MIN_STEPS, min(train_steps, fit))
    why = (
        f"about {steps} steps fit --train-minutes {train_minutes:g} at "
        f"{1000 * seconds_per_step:.0f} ms/step measured here (at most --train-steps "
        f"{train_steps}); corrected after each epoch"
    )
    return steps, why


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
    are a model variable too, so a resumed run spends only what is left."""

    def __init__(self, minutes: float, max_steps: int) -> None:
        super().__init__()
        self.seconds = 60.0 * minutes
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
        if done <= 0 or elapsed <= 0:
            return
        left = max(self.seconds - self._spent_before - elapsed, 0.0)
        steps = int(min(self.max_steps, max(step + left * done / elapsed, step, MIN_STEPS)))
        horizon = horizon_of(self.model)
        if steps != int(horizon.numpy()):
            logging.info(
                "petunet: training budget: %d steps in all (%.0f ms/step measured, %.0f s left)",
                steps,
                1000 * elapsed / done,
                left,
            )
            horizon.assign(steps)
