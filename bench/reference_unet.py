"""A plain reference U-Net for benchmarks: the same architecture as models/unet.py, written the
straightforward way (tf.keras functional API, Cropping2D, defaults everywhere), float32, no XLA,
unweighted sparse cross-entropy. It is what petunet's train step is measured against.
"""

from __future__ import annotations

import tensorflow as tf


def build_reference_unet(tile: int, depth: int, filters: int, classes: int = 3) -> tf.keras.Model:
    inputs = tf.keras.Input((tile, tile, 3))
    x = tf.keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    skips = []
    for level in range(depth):
        for _ in range(2):
            x = tf.keras.layers.Conv2D(filters * 2**level, 3, activation="relu")(x)
        if level < depth - 1:
            skips.append(x)
            x = tf.keras.layers.MaxPool2D()(x)
    for level in reversed(range(depth - 1)):
        x = tf.keras.layers.Conv2DTranspose(filters * 2**level, 2, strides=2)(x)
        crop = (skips[level].shape[1] - x.shape[1]) // 2
        x = tf.keras.layers.Concatenate()([tf.keras.layers.Cropping2D(crop)(skips[level]), x])
        for _ in range(2):
            x = tf.keras.layers.Conv2D(filters * 2**level, 3, activation="relu")(x)
    outputs = tf.keras.layers.Conv2D(classes, 1)(x)
    model = tf.keras.Model(inputs, outputs)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model
