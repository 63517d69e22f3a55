"""What the answer's confidence costs: predict_image with and without it, side by side.

    python -m bench confidence                  # demo preset network, this machine
    python -m bench confidence --rounds 40

Builds the preset's network (random weights: the cost does not depend on them) with petunet's
serving module and traces each image signature twice from the same code: once as exported, once
with the confidence's sums replaced by zeros. Times both in alternation, round by round, on
500 x 375 JPEGs at batch 1 and 8 (predict_image) and on a 1000 x 750 image (predict_image_tiled),
and reports each median latency and the ratio. Writes outputs/bench/confidence.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from unittest import mock

import tensorflow as tf

from bench.bench_serving import pet, random_network
from bench.machine import describe as describe_machine
from bench.machine import write_results
from bench.paths import run_path
from models.serving import confidence, export, server

RESULTS = run_path("confidence")


def _without_confidence(
    probabilities: tf.Tensor, predicted: tf.Tensor, largest: tf.Tensor, pixels: tf.Tensor
) -> tf.Tensor:
    shape = tf.concat([tf.shape(pixels)[:-2], [3, probabilities.shape[-1]]], axis=0)
    return tf.zeros(shape, tf.float32)


def _traced(served: server.SegmentationServer, name: str, with_confidence: bool):
    """The signature `name` of `served` traced anew, with or without the confidence's work."""
    method = getattr(server.SegmentationServer, name).python_function
    function = tf.function(
        lambda image_bytes: method(served, image_bytes),
        input_signature=[server.IMAGES],
        autograph=False,
    )
    if with_confidence:
        return function.get_concrete_function()
    with mock.patch.object(confidence, "class_sums", _without_confidence):
        return function.get_concrete_function()


def _seconds(function: Callable, batch: tf.Tensor) -> float:
    started = time.perf_counter()
    function(batch)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    config, model, transform, _ = random_network(args.preset, "bench_confidence_")
    served = server.SegmentationServer(
        export.float32_network(model), transform, config.tile_size,
        config.dataset, config.serving.max_image_megapixels,
    )  # fmt: skip
    photo, large = pet(375, 500)[0], pet(750, 1000, 2)[0]
    cases = {
        "predict_image, batch 1": ("predict_image", [photo]),
        "predict_image, batch 8": ("predict_image", [photo] * 8),
        "predict_image_tiled, 1000 x 750": ("predict_image_tiled", [large]),
    }
    results: dict = {"machine": describe_machine(), "preset": args.preset, "rounds": args.rounds}
    for case, (name, images) in cases.items():
        batch = tf.constant(images)
        functions = {flag: _traced(served, name, flag) for flag in (True, False)}
        for function in functions.values():
            function(batch)  # first-call costs are not latency
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for flag, function in functions.items():
                times[flag].append(_seconds(function, batch))
        with_ms = 1000 * statistics.median(times[True])
        without_ms = 1000 * statistics.median(times[False])
        results[case] = {
            "with_confidence_ms": with_ms,
            "without_ms": without_ms,
            "ratio": with_ms / without_ms,
        }
        print(f"{case:34s} with {with_ms:8.1f} ms  without {without_ms:8.1f} ms  "
              f"ratio {with_ms / without_ms:.3f}")  # fmt: skip
    write_results(RESULTS, results)
    print(f"wrote {RESULTS}")
    return 0
