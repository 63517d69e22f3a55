"""Analytic FLOP counts of a U-Net's convolutions (multiply-add = 2 FLOPs).

Forward FLOPs come from the layers' output shapes; a training step is counted as 3x forward
(forward, gradient w.r.t. activations, gradient w.r.t. weights), the usual convention.
"""

from __future__ import annotations

import tensorflow as tf

TRAINING_MULTIPLIER = 3


def forward_flops(model: tf.keras.Model) -> int:
    total = 0
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Conv2DTranspose):
            _, height, width, _ = layer.input.shape  # each input pixel feeds a k x k patch
            kh, kw, out_channels, in_channels = layer.kernel.shape
            total += 2 * height * width * kh * kw * in_channels * out_channels
        elif isinstance(layer, tf.keras.layers.Conv2D):
            _, height, width, _ = layer.output.shape
            kh, kw, in_channels, out_channels = layer.kernel.shape
            total += 2 * height * width * kh * kw * in_channels * out_channels
    return int(total)


def training_flops(model: tf.keras.Model) -> int:
    return TRAINING_MULTIPLIER * forward_flops(model)
