"""A fixed panel of eval examples in TensorBoard after each validation round: image | truth |
prediction | the weight map the loss used, so a user sees what the model learns, epoch by epoch."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from core import contracts
from core.dataset import DatasetSpec
from models import visual

keras = tf.keras
PANEL_TAG = "eval_panel"


def compose_panels(
    tiles: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    weights: np.ndarray,
    spec: DatasetSpec,
) -> np.ndarray:
    """uint8 [B, O, 4 O, 3]: the tiles' centre crop, truth, prediction and weights side by side."""
    out = labels.shape[-1]
    margin = (tiles.shape[1] - out) // 2
    images = tiles[:, margin : margin + out, margin : margin + out]
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    colours = visual.class_colours(spec.num_classes, spec.background_class)
    heat = weights / max(float(weights.max()), 1e-6)
    heat = (np.stack([heat, heat * 0.6, 1.0 - heat], axis=-1) * 255).astype(np.uint8)
    parts = [
        images.astype(np.uint8),
        visual.colour_labels(labels, colours),
        visual.colour_labels(predicted, colours),
        heat,
    ]
    return np.concatenate(parts, axis=2)


class ValidationPanel(keras.callbacks.Callback):
    """Writes the panel of one fixed eval batch to `<log_dir>/validation` after every epoch."""

    def __init__(self, batch, log_dir: str, spec: DatasetSpec) -> None:
        super().__init__()
        tiles, targets = batch
        self._tiles = tiles
        self._labels = targets[contracts.LABEL_KEY].numpy()
        self._weights = targets[contracts.WEIGHTS_KEY].numpy()
        self._spec = spec
        self._writer = tf.summary.create_file_writer(os.path.join(log_dir, "validation"))

    def on_epoch_end(self, epoch, logs=None) -> None:
        logits = self.model(self._tiles, training=False)
        predicted = tf.argmax(logits, axis=-1).numpy()
        panels = compose_panels(
            self._tiles.numpy(), self._labels, predicted, self._weights, self._spec
        )
        with self._writer.as_default():
            tf.summary.image(PANEL_TAG, panels, step=epoch + 1, max_outputs=len(panels))
        self._writer.flush()
