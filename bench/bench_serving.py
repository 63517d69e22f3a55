"""Serving latency: the exported signatures against the plain way, same weights, side by side.

    python -m bench serving                  # demo preset network, this machine
    python -m bench serving --preset paper --rounds 3

Builds the preset's network (random weights: latency does not depend on them), exports it with
petunet's signatures through a minimal Transform graph, and times, alternating round by round:
- predict_image on 500 x 375 JPEGs (the Oxford set's typical size), batch 1 and 8: p50/p95 latency
  and images/s, against Keras `predict` with Pillow resizing and NumPy mirroring around it;
- predict_image_tiled on a 2000 x 1500 image: megapixels/s, against Keras `predict` on tiles with
  NumPy cutting and stitching (bench/plain_serving.py).
Also: the share of this CPU's measured matrix-multiply peak the network's FLOPs reach. Prints a
table and writes outputs/bench/serving.json.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf
from PIL import Image

from bench import flops, plain_serving
from bench.machine import describe as describe_machine
from bench.machine import write_results
from bench.paths import run_path
from components.example_gen.oxford import OXFORD_PETS
from core import config as configs
from core import contracts
from models.serving import export
from models.training.model import build_training_model
from models.transform import preprocessing

RESULTS = run_path("serving")


class TransformOutput:
    """What export needs of a TFTransformOutput, built from the real preprocessing_fn."""

    def __init__(self, config: configs.TrainerConfig, work: str) -> None:
        import tensorflow_transform as tft
        import tensorflow_transform.beam as tft_beam
        from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

        spec = {key: tf.io.FixedLenFeature([], tf.string)
                for key in (contracts.IMAGE_KEY, contracts.MASK_KEY)}  # fmt: skip
        metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
        custom = preprocessing.custom_config(config.transform, config.dataset)
        with tft_beam.Context(temp_dir=os.path.join(work, "tmp")):
            jpeg, png = pet(64, 48)
            sample = [{contracts.IMAGE_KEY: jpeg, contracts.MASK_KEY: png}]
            _, transform_fn = (sample, metadata) | tft_beam.AnalyzeAndTransformDataset(
                lambda inputs: preprocessing.preprocessing_fn(inputs, custom)
            )
            _ = transform_fn | tft_beam.WriteTransformFn(os.path.join(work, "transform"))
        # the raw schema, which the export parses serialized examples with
        metadata_io.write_metadata(metadata, os.path.join(work, "transform", "metadata"))
        self._output = tft.TFTransformOutput(os.path.join(work, "transform"))

    def __getattr__(self, name):
        return getattr(self._output, name)


def pet(height: int, width: int, seed: int = 0) -> tuple[bytes, bytes]:
    """A generated pet of that size: the photo as JPEG and its trimap as PNG."""
    from pipeline.synthetic import drawing
    from pipeline.synthetic.pets import render_pet

    image, trimap, _ = render_pet(seed, 1, (height, width))
    return drawing.encode(image, "JPEG", quality=90), drawing.encode(trimap, "PNG")


def random_network(preset: str, prefix: str):
    """(the preset's trainer config, its network with random weights (latency does not depend on
    them), the Transform output the export needs, a fresh work folder)."""
    config = configs.get_config(preset).with_dataset(OXFORD_PETS).trainer()
    work = tempfile.mkdtemp(prefix=prefix)
    model = build_training_model(config, tf.distribute.get_strategy(), "float32", False)
    return config, model, TransformOutput(config, work), work


def _timings(call, rounds: int) -> list[float]:
    call()  # tracing and first-call costs are not latency
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def _stats(times: list[float], images: int, pixels: float) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "images_per_s": images / statistics.median(ordered),
        "megapixels_per_s": pixels / 1e6 / statistics.median(ordered),
    }


def matmul_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    tf.linalg.matmul(a, b).numpy()
    best = min(_timings(lambda: tf.linalg.matmul(a, b).numpy(), repeats))
    return 2 * size**3 / best / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    config, model, transform, work = random_network(args.preset, "bench_serving_")
    export.export_serving_model(
        model, transform, config.tile_size, os.path.join(work, "m"),
        config.dataset, config.serving.max_image_megapixels,
    )  # fmt: skip
    served = tf.saved_model.load(os.path.join(work, "m"))
    image_jpeg, big_jpeg = pet(375, 500)[0], pet(1500, 2000, 2)[0]

    def keras_probabilities(tiles: np.ndarray) -> np.ndarray:
        return tf.nn.softmax(model.predict(tiles, verbose=0), axis=-1).numpy()

    def signature(name: str, images: list[bytes]):
        fn = served.signatures[name]
        batch = tf.constant(images)
        return lambda: fn(**{contracts.IMAGE_BYTES_INPUT: batch})

    out, tile = config.output_size, config.tile_size
    cases = {}
    for batch in (1, 8):
        pixels = batch * 500 * 375
        cases[f"predict_image, batch {batch}"] = (
            signature(contracts.PREDICT_IMAGE_SIGNATURE, [image_jpeg] * batch),
            lambda b=batch: [
                plain_serving.resized_classes(
                    keras_probabilities,
                    np.asarray(Image.open(io.BytesIO(image_jpeg))),
                    tile,
                    out,
                )
                for _ in range(b)
            ],
            batch,
            pixels,
        )
    cases["predict_image_tiled, 2000 x 1500"] = (
        signature(contracts.PREDICT_IMAGE_TILED_SIGNATURE, [big_jpeg]),
        lambda: plain_serving.tiled_classes(
            keras_probabilities, np.asarray(Image.open(io.BytesIO(big_jpeg))), tile, out
        ),
        1,
        2000 * 1500,
    )
    results = {"machine": describe_machine(), "preset": args.preset, "cases": {}}
    for name, (ours, plain, images, pixels) in cases.items():
        ours_times, plain_times = [], []
        ours(), plain()  # warm-up: tracing, first calls
        for _ in range(args.rounds):  # alternate, so that machine noise hits both alike
            ours_times += _timings(ours, 1)
            plain_times += _timings(plain, 1)
        ours_stats = _stats(ours_times, images, pixels)
        plain_stats = _stats(plain_times, images, pixels)
        results["cases"][name] = {
            "signature": ours_stats,
            "plain": plain_stats,
            "ratio": plain_stats["p50_ms"] / ours_stats["p50_ms"],
        }
    peak = matmul_peak_gflops()
    tiled = results["cases"]["predict_image_tiled, 2000 x 1500"]["signature"]
    tiles_per_s = tiled["images_per_s"] * (-(-1500 // out)) * (-(-2000 // out))
    results["matmul_peak_gflops"] = peak
    results["share_of_peak"] = flops.forward_flops(model) * tiles_per_s / (peak * 1e9)
    print(f"{'case':<36} {'ours p50/p95 ms':>18} {'plain p50/p95 ms':>18} {'ratio':>6}")
    for name, row in results["cases"].items():
        o, p = row["signature"], row["plain"]
        print(f"{name:<36} {o['p50_ms']:>8.1f}/{o['p95_ms']:<8.1f} "
              f"{p['p50_ms']:>8.1f}/{p['p95_ms']:<8.1f} {row['ratio']:>6.2f}")  # fmt: skip
    print(f"matmul peak {peak:.0f} GFLOP/s; share reached by the tiled forward pass: "
          f"{results['share_of_peak']:.1%}")  # fmt: skip
    write_results(RESULTS, results)
    return 0
