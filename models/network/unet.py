"""The U-Net of Ronneberger, Fischer and Brox (2015), Fig. 1 and Sec. 3, as a tf.keras model.

Unpadded ("valid") 3x3 convolutions, 2x2 max-pooling, 2x2 up-convolutions that halve the channels,
centre-cropped skip connections, a final 1x1 convolution to per-pixel class logits. A 572x572 tile
gives a 388x388 output; the crops are derived from the feature maps' shapes, never hard-coded.
"""

from __future__ import annotations

import tensorflow as tf

from core import geometry

keras = tf.keras


def he_normal() -> keras.initializers.Initializer:
    """Gaussian with std sqrt(2 / fan_in) as in the paper (Keras' HeNormal is truncated)."""
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_in", distribution="untruncated_normal"
    )


@keras.utils.register_keras_serializable(package="petunet")
class CenterCropToMatch(keras.layers.Layer):
    """Crops `skip` to the size of `reference`, equally on both sides (paper: "copy and crop").

    The amounts come from the runtime shapes, so the same layer serves any valid tile size.
    """

    def call(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        skip, reference = inputs
        skip_shape, ref_shape = tf.shape(skip), tf.shape(reference)
        top = (skip_shape[1] - ref_shape[1]) // 2
        left = (skip_shape[2] - ref_shape[2]) // 2
        # tf.slice, not strided indexing: its gradient is a Pad, faster on CPU than the
        # StridedSliceGrad of `skip[:, a:b, c:d]`.
        cropped = tf.slice(skip, [0, top, left, 0], [-1, ref_shape[1], ref_shape[2], -1])
        static = reference.shape[1:3]
        return tf.ensure_shape(cropped, [None, static[0], static[1], skip.shape[-1]])

    def compute_output_shape(self, input_shape):
        skip_shape, ref_shape = input_shape
        return tf.TensorShape([skip_shape[0], ref_shape[1], ref_shape[2], skip_shape[-1]])


def _double_conv(x: tf.Tensor, filters: int, name: str, dtype: str | None) -> tf.Tensor:
    for i in (1, 2):
        x = keras.layers.Conv2D(
            filters,
            geometry.CONV_KERNEL,
            padding="valid",
            activation="relu",
            kernel_initializer=he_normal(),
            dtype=dtype,
            name=f"{name}_conv{i}",
        )(x)
    return x


def build_unet(
    tile_size: int | None = geometry.PAPER_TILE,
    depth: int = geometry.PAPER_DEPTH,
    base_filters: int = 64,
    input_channels: int = 3,
    *,
    num_classes: int,
    dropout_rate: float = 0.5,
    dtype_policy: str | None = None,
    input_dtype: str = "float32",
) -> keras.Model:
    """Builds the paper's U-Net; the defaults are the paper's (5 levels, 64 filters, 572 tile);
    the classes come from the data set.

    tile_size: input height and width; checked against the geometry (ValueError names the nearest
        valid sizes). None builds a size-agnostic model; callers must then feed valid sizes.
    dtype_policy: a Keras mixed-precision policy ("mixed_bfloat16", ...); None: the global one.
        The logits are always float32 so that the loss and softmax stay numerically safe.
    input_dtype: "uint8" or "float32": pixels are values 0..255 either way and are normalised inside
        the model to [-1, 1], so callers ship uint8 tiles (4x less I/O than float).
    Returns a model mapping [B, T, T, C] pixels to [B, O, O, num_classes] logits.
    """
    if tile_size is not None:
        geometry.geometry(tile_size, depth)
    inputs = keras.Input((tile_size, tile_size, input_channels), dtype=input_dtype, name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, dtype=dtype_policy, name="normalize")(
        inputs
    )

    skips: list[tf.Tensor] = []
    for level in range(depth - 1):
        x = _double_conv(x, base_filters * 2**level, f"down{level}", dtype_policy)
        skips.append(x)
        x = keras.layers.MaxPool2D(2, strides=2, dtype=dtype_policy, name=f"pool{level}")(x)

    x = _double_conv(x, base_filters * 2 ** (depth - 1), "bottom", dtype_policy)
    # Paper, Sec. 3.1: "Drop-out layers at the end of the contracting path".
    x = keras.layers.Dropout(dropout_rate, dtype=dtype_policy, name="bottom_dropout")(x)

    for level in reversed(range(depth - 1)):
        filters = base_filters * 2**level
        x = keras.layers.Conv2DTranspose(
            filters,
            2,
            strides=2,
            kernel_initializer=he_normal(),
            dtype=dtype_policy,
            name=f"up{level}_upconv",
        )(x)
        skip = CenterCropToMatch(dtype=dtype_policy, name=f"up{level}_crop")([skips[level], x])
        x = keras.layers.Concatenate(dtype=dtype_policy, name=f"up{level}_concat")([skip, x])
        x = _double_conv(x, filters, f"up{level}", dtype_policy)

    x = keras.layers.Conv2D(
        num_classes, 1, kernel_initializer=he_normal(), dtype=dtype_policy, name="classifier"
    )(x)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name="unet")
