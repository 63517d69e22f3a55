"""The paper's network: parameter counts, shapes, crop alignment, and that it trains."""

import numpy as np
import pytest
import tensorflow as tf

from core import geometry
from models.network.unet import build_unet


def test_paper_parameter_count_rgb_three_classes():
    model = build_unet(572, depth=5, base_filters=64, input_channels=3, num_classes=3)
    assert model.count_params() == 31_031_875
    assert model.output_shape == (None, 388, 388, 3)


def test_paper_parameter_count_one_channel_two_classes():
    model = build_unet(572, depth=5, base_filters=64, input_channels=1, num_classes=2)
    assert model.count_params() == 31_030_658


def test_252_tile_gives_68x68_output():
    model = build_unet(252, depth=5, base_filters=4, num_classes=3)
    assert model.output_shape == (None, 68, 68, 3)
    out = model(np.zeros((1, 252, 252, 3), np.float32))
    assert out.shape == (1, 68, 68, 3)


def test_crop_layers_follow_the_paper_figure():
    model = build_unet(572, depth=5, base_filters=4, num_classes=3)
    crops = {}
    for layer in model.layers:
        if layer.name.endswith("_crop"):
            skip_shape = layer.input[0].shape
            crops[layer.name] = (skip_shape[1], layer.output.shape[1])
    assert crops == {
        "up3_crop": (64, 56),
        "up2_crop": (136, 104),
        "up1_crop": (280, 200),
        "up0_crop": (568, 392),
    }


@pytest.mark.parametrize("tile", [256, 570])
def test_invalid_tile_raises(tile):
    with pytest.raises(ValueError, match="Nearest valid tile sizes"):
        build_unet(tile, depth=5, base_filters=4, num_classes=3)


def test_initial_weights_have_std_sqrt_2_over_fan_in():
    model = build_unet(572, depth=5, base_filters=64, num_classes=3)
    kernel = model.get_layer("down2_conv1").kernel.numpy()  # 3x3x128 -> 256
    fan_in = 3 * 3 * 128
    assert kernel.std() == pytest.approx(np.sqrt(2.0 / fan_in), rel=0.02)
    # Untruncated Gaussian: values beyond 2 std exist (a truncated normal would cut them off).
    assert np.abs(kernel).max() > 2.5 * np.sqrt(2.0 / fan_in)


def test_dropout_sits_at_the_end_of_the_contracting_path():
    model = build_unet(188, depth=5, base_filters=4, dropout_rate=0.5, num_classes=3)
    names = [layer.name for layer in model.layers]
    assert names.index("bottom_dropout") == names.index("bottom_conv2") + 1
    assert model.get_layer("bottom_dropout").rate == 0.5


def _set_identity_kernels(model: tf.keras.Model) -> None:
    """Turns every convolution into a pass-through so the network copies its input.

    Convs copy channel i to channel i (centre tap); the conv after each concatenation adds the skip
    half and the up-convolved half; up-convolutions spread each pixel over its 2x2 block. The output
    is then depth x the input's centre crop, exactly, iff every crop is centred correctly.
    """
    for layer in model.layers:
        if not isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.Conv2DTranspose)):
            continue
        kernel = np.zeros(layer.kernel.shape, np.float32)
        if isinstance(layer, tf.keras.layers.Conv2DTranspose):  # (h, w, out, in)
            for c in range(min(kernel.shape[2], kernel.shape[3])):
                kernel[:, :, c, c] = 1.0
        else:  # (h, w, in, out)
            cy, cx = kernel.shape[0] // 2, kernel.shape[1] // 2
            channels_in, channels_out = kernel.shape[2], kernel.shape[3]
            concat_input = layer.name.endswith("_conv1") and layer.name.startswith("up")
            for c in range(min(channels_in, channels_out)):
                kernel[cy, cx, c, c] = 1.0
                if concat_input:
                    assert channels_in == 2 * channels_out  # [cropped skip, up-convolved]
                    kernel[cy, cx, channels_out + c, c] = 1.0
        layer.kernel.assign(kernel)
        layer.bias.assign(np.zeros(layer.bias.shape, np.float32))


@pytest.mark.parametrize("tile,depth", [(92, 3), (188, 5), (220, 5)])
def test_output_pixel_sits_over_the_input_pixel_it_claims(tile, depth):
    """A marker pattern goes through an identity-kernel network and lands at (input - margin).

    The input is random on blocks of 2^(depth-1) px aligned with the pooling grid (so pooling and
    up-convolution reproduce it exactly): any off-by-one crop at any level changes the output at the
    block edges. Values stay above 127.5 so that normalisation keeps them positive through ReLU.
    """
    model = build_unet(tile, depth=depth, base_filters=4, num_classes=3, dropout_rate=0.0)
    _set_identity_kernels(model)
    geo = geometry.geometry(tile, depth)
    block = 2 ** (depth - 1)
    offset = (2**depth - 2) % block  # the pooling grid's phase in input coordinates
    rng = np.random.default_rng(0)
    cells = tile // block + 2
    coarse = rng.uniform(130, 255, size=(cells, cells, 3)).astype(np.float32)
    fine = np.repeat(np.repeat(coarse, block, axis=0), block, axis=1)
    start = block - offset
    image = fine[start : start + tile, start : start + tile]
    out = model(image[None]).numpy()[0]
    m = geo.margin
    expected = depth * (image[m : m + geo.output, m : m + geo.output] / 127.5 - 1.0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    # The same network one pixel off would not match: the check has teeth.
    shifted = depth * (image[m + 1 : m + 1 + geo.output, m : m + geo.output] / 127.5 - 1.0)
    assert not np.allclose(out, shifted, atol=1e-3)


def test_tiny_unet_trains_and_loss_goes_down():
    tf.keras.utils.set_random_seed(0)
    model = build_unet(92, depth=3, base_filters=4, dropout_rate=0.0, num_classes=3)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(4, 92, 92, 3)).astype(np.float32)
    out = model.output_shape[1]
    margin = (92 - out) // 2
    # Learnable target: the class is whether the centre pixel's red channel is bright.
    labels = (images[:, margin : margin + out, margin : margin + out, 0] > 127).astype(np.int64)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-2),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(images, labels, batch_size=2, epochs=15, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]


def test_uint8_input_and_bfloat16_policy_give_float32_logits():
    model = build_unet(
        92,
        depth=3,
        base_filters=4,
        dtype_policy="mixed_bfloat16",
        input_dtype="uint8",
        num_classes=3,
    )
    assert model.get_layer("down0_conv1").compute_dtype == "bfloat16"
    assert model.output.dtype == tf.float32 and tuple(model.output.shape) == (None, 52, 52, 3)
    try:
        out = model(np.full((1, 92, 92, 3), 200, np.uint8))
    except tf.errors.AbortedError as error:  # oneDNN without bfloat16 kernels (e.g. AVX2 only)
        pytest.skip(f"no bfloat16 convolution on this CPU: {str(error).splitlines()[0][:80]}")
    assert out.dtype == tf.float32
    assert out.shape == (1, 52, 52, 3)
