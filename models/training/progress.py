"""Training progress the user can see: steps, images/s, loss and time left, inside an epoch.

Keras prints one line per epoch, so a long epoch looked like a hang. On a terminal a live tqdm bar
shows the steps; in a file or CI, where a bar would be hundreds of carriage returns, a plain line
is logged every `every_percent` of the steps (and at least every `every_seconds`). After each
validation round one line sums up the epoch.
"""

from __future__ import annotations

import logging
import sys
import time

import tensorflow as tf

from models.training import budget

keras = tf.keras


def _clock(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class TrainingProgress(keras.callbacks.Callback):
    """Logs `petunet: training ...` lines (or draws a bar on a terminal) as steps complete."""

    def __init__(
        self,
        batch_size: int,
        every_percent: float = 10.0,
        every_seconds: float = 30.0,
        live: bool | None = None,
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.every_percent = every_percent
        self.every_seconds = every_seconds
        self.live = sys.stderr.isatty() if live is None else live
        self._bar = None

    @property
    def total_steps(self) -> int:
        """The step training ends at: the model's horizon, which a time budget may move."""
        return int(budget.horizon_of(self.model).numpy())

    def on_train_begin(self, logs=None) -> None:
        self._start_step = None  # set at the first step's end: it pays for tracing, not counted
        logging.info("petunet: training: compiling the train step and filling the input pipeline")
        if self.live:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total_steps, unit="step", desc="training")

    def _status(self, step: int, loss: float | None) -> str:
        elapsed = time.monotonic() - self._started
        done = step - self._start_step
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (self.total_steps - step) / rate if rate > 0 else 0.0
        shown = f", loss {loss:.4f}" if loss is not None else ""
        return (
            f"step {step}/{self.total_steps} ({100 * step / self.total_steps:.0f}%), "
            f"{rate * self.batch_size:.1f} images/s{shown}, ETA {_clock(left)}"
        )

    def on_train_batch_end(self, batch, logs=None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        if self._start_step is None:
            self._start_step, self._started = step, time.monotonic()
            self._last_line = (step, self._started)
            logging.info("petunet: training started at step %d of %d", step, self.total_steps)
            if self._bar is not None:
                self._bar.update(step - self._bar.n)
            return
        loss = (logs or {}).get("loss")
        loss = float(loss) if loss is not None else None
        if self._bar is not None:
            self._bar.total = self.total_steps
            self._bar.update(step - self._bar.n)
            if loss is not None:
                self._bar.set_postfix(loss=f"{loss:.4f}")
            return
        last_step, last_time = self._last_line
        every_steps = max(1, int(self.total_steps * self.every_percent / 100))
        due = step - last_step >= every_steps or time.monotonic() - last_time >= self.every_seconds
        if due or step >= self.total_steps:
            logging.info("petunet: training %s", self._status(step, loss))
            self._last_line = (step, time.monotonic())

    def on_epoch_end(self, epoch, logs=None) -> None:
        logs = logs or {}
        keys = [k for k in sorted(logs) if "loss" in k or ("iou" in k and k.startswith("val_"))]
        shown = ", ".join(f"{k} {float(logs[k]):.3f}" for k in keys)
        if self._bar is not None:
            self._bar.write(f"petunet: epoch {epoch + 1}: {shown}")
        else:
            logging.info("petunet: epoch %d: %s", epoch + 1, shown)

    def on_train_end(self, logs=None) -> None:
        if self._bar is not None:
            self._bar.close()
