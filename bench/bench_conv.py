"""Convolution layers alone: float32 against bfloat16 for every 3x3 conv of a preset's U-Net.

    python -m bench conv                  # demo preset
    python -m bench conv --presets demo paper --rounds 2

Each 3x3 convolution of the model is timed on its own (forward, ReLU and both gradients, as in
a train step, at the preset's batch size), float32 and bfloat16 in turn. The sum over the layers
says how much bfloat16 can gain on the convolutions, which are most of a train step on CPU: it
bounds what a mixed-precision step can reach against a float32 reference. Writes
outputs/bench/conv.json.
"""

from __future__ import annotations

import argparse

import tensorflow as tf

from bench.machine import describe as describe_machine
from bench.machine import write_results
from bench.paths import run_path
from components.example_gen.oxford import OXFORD_PETS
from core import config as configs
from models.network.unet import build_unet
from models.training import timing

RESULTS = run_path("conv")


def conv_shapes(config: configs.TrainerConfig) -> list[tuple[str, list[int], int]]:
    """(layer name, input shape [B, H, W, C], filters) of every 3x3 conv of the preset's U-Net."""
    model = build_unet(
        config.tile_size,
        config.depth,
        config.training.base_filters,
        num_classes=config.num_classes,
        dropout_rate=0.0,
    )
    shapes = []
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Conv2D) and layer.kernel_size == (3, 3):
            height, width, channels = layer.input.shape[1:]
            shapes.append(
                (layer.name, [config.training.batch_size, height, width, channels], layer.filters)
            )
    return shapes


def conv_step(shape: list[int], filters: int, dtype: tf.DType):
    """A compiled forward + ReLU + input and kernel gradients of one valid 3x3 conv."""
    images = tf.random.normal(shape, dtype=dtype)
    kernel = tf.Variable(tf.random.normal([3, 3, shape[-1], filters]) * 0.1)

    @tf.function
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(images)
            out = tf.nn.relu(tf.nn.conv2d(images, tf.cast(kernel, dtype), 1, "VALID"))
            loss = tf.reduce_sum(tf.cast(out, tf.float32))
        grad_images, grad_kernel = tape.gradient(loss, [images, kernel])
        return tf.reduce_sum(tf.cast(grad_images, tf.float32)) + tf.reduce_sum(grad_kernel)

    return step


def bench_preset(name: str, steps: int, rounds: int) -> dict:
    config = configs.get_config(name).with_dataset(OXFORD_PETS).trainer()
    layers = []
    for layer, shape, filters in conv_shapes(config):
        steps_by_dtype = {d: conv_step(shape, filters, d) for d in (tf.float32, tf.bfloat16)}
        seconds_per_step = {d: 0.0 for d in steps_by_dtype}
        for step in steps_by_dtype.values():  # trace and warm up
            float(step())
        for _ in range(rounds):
            for dtype, step in steps_by_dtype.items():
                seconds_per_step[dtype] += timing.time_steps(step, steps) / rounds
        layers.append(
            {
                "layer": layer,
                "input": shape,
                "filters": filters,
                "float32_ms": 1000 * seconds_per_step[tf.float32],
                "bfloat16_ms": 1000 * seconds_per_step[tf.bfloat16],
            }
        )
    total32 = sum(row["float32_ms"] for row in layers)
    total16 = sum(row["bfloat16_ms"] for row in layers)
    return {
        "preset": name,
        "tile": config.tile_size,
        "filters": config.training.base_filters,
        "batch": config.training.batch_size,
        "layers": layers,
        "float32_ms": total32,
        "bfloat16_ms": total16,
        "bfloat16_speedup": total32 / total16,
    }


def format_table(result: dict) -> str:
    lines = [
        f"{result['preset']} (tile {result['tile']}, {result['filters']} filters, "
        f"batch {result['batch']}):",
        "| layer | input | filters | float32 ms | bfloat16 ms | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["layers"]:
        size = "x".join(str(v) for v in row["input"][1:])
        lines.append(
            f"| {row['layer']} | {size} | {row['filters']} | {row['float32_ms']:.2f} | "
            f"{row['bfloat16_ms']:.2f} | {row['float32_ms'] / row['bfloat16_ms']:.2f} |"
        )
    lines.append(
        f"| **all 3x3 convs** | | | {result['float32_ms']:.1f} | {result['bfloat16_ms']:.1f} | "
        f"**{result['bfloat16_speedup']:.2f}** |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="petunet 3x3 convolutions: float32 vs bfloat16")
    parser.add_argument("--presets", nargs="+", default=["demo"])
    parser.add_argument("--steps", type=int, default=5, help="steps per round and dtype")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    results = [bench_preset(name, args.steps, args.rounds) for name in args.presets]
    for result in results:
        print(format_table(result))
    write_results(args.out, {"machine": describe_machine(), "results": results})
    return 0
