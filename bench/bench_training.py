"""Training throughput: petunet's train step against a plain reference U-Net, measured alternately.

    python -m bench training                       # demo and test presets, this machine
    python -m bench training --presets paper --steps 3 --rounds 2
    python -m bench training --presets paper --batch-sizes 1 8 --peak-tflops 989   # a GPU

For each preset: the Trainer's execution choice (precision, XLA; "auto" times float32 against
mixed_bfloat16 on bfloat16 CPUs), then rounds of `--steps` train steps of each variant in turn,
so that machine noise hits all of them alike. Variants: petunet as the Trainer runs it, petunet
forced to float32, and the reference (tf.keras functional, default compile, float32, random
tensors). Prints a table and writes outputs/bench/training.json.
"""

from __future__ import annotations

import argparse
import json
import os

import tensorflow as tf

from bench import flops
from bench.machine import describe as describe_machine
from bench.paths import run_path
from bench.reference_unet import build_reference_unet
from components.example_gen.oxford import OXFORD_PETS
from core import config as configs
from core import contracts
from models.training import execution, timing
from models.training.model import build_training_model

RESULTS = run_path("training")


def _reference_batch(config: configs.TrainerConfig):
    tiles, targets = timing.random_batch(config)
    return tf.cast(tiles, tf.float32), targets[contracts.LABEL_KEY]


def bench_preset(
    name: str, batch_size: int | None, steps: int, rounds: int, peak_tflops: float | None
) -> dict:
    overrides = {"batch_size": batch_size} if batch_size else {}
    config = configs.get_config(name, **overrides).with_dataset(OXFORD_PETS).trainer()
    plan = execution.plan_for(config)
    variants = {
        "petunet": build_training_model(config, plan.strategy, plan.precision, plan.jit_compile),
        "petunet_float32": build_training_model(config, plan.strategy, "float32", plan.jit_compile),
        "reference": build_reference_unet(
            config.tile_size, config.depth, config.training.base_filters
        ),
    }
    counts = {
        k: int(sum(tf.size(w).numpy() for w in m.trainable_weights)) for k, m in variants.items()
    }
    assert len(set(counts.values())) == 1, f"models differ in size: {counts}"
    batches = {
        "petunet": timing.random_batch(config),
        "petunet_float32": timing.random_batch(config),
        "reference": _reference_batch(config),
    }
    step_fns = {k: timing.step_function(m, batches[k]) for k, m in variants.items()}
    # One call runs steps_per_execution steps for petunet (as the Trainer compiles it) and one
    # for the default-compiled reference: each round times at least `steps` steps of each.
    per_call = {k: 1 if k == "reference" else config.training.steps_per_execution for k in step_fns}
    for step in step_fns.values():  # trace and warm up
        step()
        step()
    seconds_per_step = {k: 0.0 for k in step_fns}
    for _ in range(rounds):
        for key, step in step_fns.items():
            seconds_per_step[key] += timing.time_steps(step, steps, per_call[key]) / rounds
    step_flops = flops.training_flops(variants["reference"]) / config.training.batch_size
    rows = {}
    for key in step_fns:
        rate = config.training.batch_size / seconds_per_step[key]
        row = {"images_per_s": rate, "ms_per_step": 1000 * seconds_per_step[key]}
        if peak_tflops:
            row["fraction_of_peak"] = rate * step_flops / (peak_tflops * 1e12)
        rows[key] = row
    reference_rate = rows["reference"]["images_per_s"]
    for row in rows.values():
        row["ratio_to_reference"] = row["images_per_s"] / reference_rate
    return {
        "preset": name,
        "tile": config.tile_size,
        "depth": config.depth,
        "filters": config.training.base_filters,
        "batch": config.training.batch_size,
        "parameters": counts["reference"],
        "training_gflop_per_image": step_flops / 1e9,
        "device": plan.device,
        "trainer_choice": plan.reason,
        "steps_per_round": steps,
        "steps_per_execution": config.training.steps_per_execution,
        "rounds": rounds,
        "variants": rows,
    }


def format_table(results: list[dict]) -> str:
    lines = [
        "| preset | tile | filters | batch | variant | images/s | ms/step | x reference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for key, row in r["variants"].items():
            peak = (
                f" ({100 * row['fraction_of_peak']:.1f}% of peak)"
                if "fraction_of_peak" in row
                else ""
            )
            lines.append(
                f"| {r['preset']} | {r['tile']} | {r['filters']} | {r['batch']} | {key} | "
                f"{row['images_per_s']:.2f}{peak} | {row['ms_per_step']:.0f} | "
                f"{row['ratio_to_reference']:.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="petunet training throughput vs a reference")
    parser.add_argument("--presets", nargs="+", default=["demo", "test"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[0], help="0: preset's")
    parser.add_argument("--steps", type=int, default=5, help="train steps per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float, help="device peak, for the FLOP fraction")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    results = [
        bench_preset(preset, batch or None, args.steps, args.rounds, args.peak_tflops)
        for preset in args.presets
        for batch in args.batch_sizes
    ]
    machine = describe_machine()
    print(f"machine: {machine}")
    for r in results:
        print(f"{r['preset']}: {r['device']}; trainer chose {r['trainer_choice']}")
    print(format_table(results))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as out:
        json.dump({"machine": machine, "results": results}, out, indent=2)
    return 0
