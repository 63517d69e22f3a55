"""A network trained in mixed precision is served in float32, so its SavedModel runs on CPUs
without bfloat16 kernels (oneDNN limited to AVX2 stands in for one)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import tensorflow as tf

from models.network.unet import build_unet
from models.serving.export import float32_network


def _tiny(policy: str) -> tf.keras.Model:
    return build_unet(
        92, depth=3, base_filters=4, num_classes=3, dtype_policy=policy, input_dtype="uint8",
        dropout_rate=0.0,
    )  # fmt: skip


def test_the_served_twin_computes_in_float32_with_the_trained_weights():
    trained = _tiny("mixed_bfloat16")
    served = float32_network(trained)
    assert {layer.compute_dtype for layer in served.layers[1:]} == {"float32"}
    for source, target in zip(trained.weights, served.weights, strict=True):
        assert source.name == target.name  # a warm start finds the served weights by name
        np.testing.assert_array_equal(source.numpy(), target.numpy())
    # Compared with a float32 build given the same weights: the bfloat16 network itself cannot run
    # on every CPU this test runs on, which is the point.
    reference = _tiny("float32")
    reference.set_weights(trained.get_weights())
    tiles = np.random.default_rng(0).integers(0, 256, (2, 92, 92, 3), dtype=np.uint8)
    logits = served(tiles).numpy()
    assert logits.dtype == np.float32 and logits.shape == (2, 52, 52, 3)
    np.testing.assert_allclose(logits, reference(tiles).numpy(), rtol=1e-5, atol=1e-6)
    assert float32_network(served) is served  # float32 already: nothing rebuilt


def test_a_bfloat16_trained_network_loads_and_runs_without_bfloat16_kernels(tmp_path):
    module = tf.Module()
    module.network = float32_network(_tiny("mixed_bfloat16"))
    module.run = tf.function(
        lambda tiles: module.network(tiles, training=False),
        input_signature=[tf.TensorSpec([None, 92, 92, 3], tf.uint8)],
    )
    tf.saved_model.save(module, str(tmp_path / "model"), signatures={"run": module.run})
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        run = tf.saved_model.load({str(tmp_path / "model")!r}).signatures["run"]
        out = next(iter(run(tiles=tf.zeros([1, 92, 92, 3], tf.uint8)).values()))
        print("shape", out.shape.as_list(), out.dtype.name)
    """)  # fmt: skip
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "shape [1, 52, 52, 3] float32" in done.stdout
