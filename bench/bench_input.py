"""Input pipeline throughput: the Trainer's tf.data (parse transformed examples, elastic
deformation, flips, weight map, batching) against what the train step consumes.

    python -m bench input                    # demo preset
    python -m bench input --presets demo paper
    taskset -c 0 python -m bench input --presets paper --input-only   # one core (scaling)

Transformed examples are made with the Transform's own per-example functions from generated
pets and written as gzipped TFRecords, as Transform writes them. The train step is timed on the
model the Trainer would build (its precision choice included). Writes outputs/bench/input.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from bench.paths import run_path
from components.example_gen.oxford import OXFORD_PETS
from core import config as configs
from core import contracts
from models.training import execution, inputs, timing
from models.training.model import build_training_model
from models.transform import overlap_tile
from pipeline.synthetic.pets import render_pet
from startup import cpu

RESULTS = run_path("input")


def transformed_spec(config: configs.TrainerConfig) -> dict:
    return {
        contracts.IMAGE_REGION_KEY: tf.io.FixedLenFeature([], tf.string),
        contracts.LABEL_REGION_KEY: tf.io.FixedLenFeature([], tf.string),
        contracts.CANVAS_BOX_KEY: tf.io.FixedLenFeature([4], tf.int64),
        contracts.CLASS_COUNTS_KEY: tf.io.FixedLenFeature([OXFORD_PETS.num_classes], tf.float32),
    }


def write_transformed(config: configs.TrainerConfig, path: str, count: int) -> None:
    """`count` transformed examples of generated 500x375 pets, gzipped like Transform's output."""
    options = tf.io.TFRecordOptions(compression_type="GZIP")

    def as_bytes(region: tf.Tensor) -> tf.train.Feature:
        serialized = overlap_tile.serialize(region).numpy()
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[serialized]))

    with tf.io.TFRecordWriter(path, options) as writer:
        for index in range(count):
            image, trimap, _ = render_pet(0, index, (375, 500))
            region, box = overlap_tile.image_to_region(tf.constant(image), config.output_size)
            label = overlap_tile.mask_to_region(tf.constant(trimap[..., None]), box, OXFORD_PETS)
            counts = [float(np.sum(label.numpy() == c)) for c in range(OXFORD_PETS.num_classes)]
            feature = {
                contracts.IMAGE_REGION_KEY: as_bytes(region),
                contracts.LABEL_REGION_KEY: as_bytes(label),
                contracts.CANVAS_BOX_KEY: tf.train.Feature(
                    int64_list=tf.train.Int64List(value=box.numpy().tolist())
                ),
                contracts.CLASS_COUNTS_KEY: tf.train.Feature(
                    float_list=tf.train.FloatList(value=counts)
                ),
            }
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())


def input_images_per_second(dataset: tf.data.Dataset, batches: int, batch_size: int) -> float:
    iterator = iter(dataset)
    for _ in range(3):  # warm up: tracing, AUTOTUNE, buffers
        next(iterator)
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - started)


def bench_preset(name: str, examples: int, batches: int, input_only: bool = False) -> dict:
    config = configs.get_config(name).with_dataset(OXFORD_PETS).trainer()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "transformed.tfrecord.gz")
        write_transformed(config, path, examples)
        dataset = inputs.from_tfrecords([path], transformed_spec(config), config, training=True)
        input_rate = input_images_per_second(dataset, batches, config.training.batch_size)
    if input_only:
        return {"preset": name, "cores": cpu.usable_cores(), "input_images_per_s": input_rate}
    plan = execution.plan_for(config)
    model = build_training_model(config, plan.strategy, plan.precision, plan.jit_compile)
    step_seconds = timing.seconds_per_step(model, config, steps=3)
    train_rate = config.training.batch_size / step_seconds
    return {
        "preset": name,
        "tile": config.tile_size,
        "output": config.output_size,
        "filters": config.training.base_filters,
        "batch": config.training.batch_size,
        "trainer_choice": plan.reason,
        "input_images_per_s": input_rate,
        "train_step_images_per_s": train_rate,
        "input_over_train": input_rate / train_rate,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="petunet input pipeline vs train step")
    parser.add_argument("--presets", nargs="+", default=["demo"])
    parser.add_argument("--examples", type=int, default=24, help="distinct transformed examples")
    parser.add_argument("--batches", type=int, default=60, help="batches timed")
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument(
        "--input-only",
        action="store_true",
        help="time the input pipeline alone (for core scaling: run under `taskset -c 0`, `0,1`)",
    )
    args = parser.parse_args(argv)
    results = [bench_preset(p, args.examples, args.batches, args.input_only) for p in args.presets]
    if args.input_only:
        for r in results:
            print(f"{r['preset']}: {r['input_images_per_s']:.1f} images/s on {r['cores']} core(s)")
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as out:
            json.dump({"cpus": os.cpu_count(), "results": results}, out, indent=2)
        return 0
    print("| preset | tile -> output | filters | batch | input images/s | train images/s | ratio |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['preset']} | {r['tile']} -> {r['output']} | {r['filters']} | {r['batch']} | "
            f"{r['input_images_per_s']:.1f} | {r['train_step_images_per_s']:.2f} | "
            f"{r['input_over_train']:.1f}x |"
        )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as out:
        json.dump({"cpus": os.cpu_count(), "results": results}, out, indent=2)
    return 0
