"""The train step fed by the Trainer's input pipeline, against the same step on one random batch
(what the precision probe times) and on real batches held in memory: what the input work (elastic
deformation, weight maps) costs the step when both share the cores.

    ./scripts/run.sh                                   # a demo run first, for its Transform output
    python -m bench fed_step --run outputs       # then this, on that run's output dir

The precision is the one the Trainer's plan picks on this machine. Rounds alternate the three
feeds on one compiled model, so that machine noise hits all alike; the median of the rounds is
reported. Writes outputs/bench/fed_step.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from bench.machine import describe as describe_machine
from bench.machine import write_results
from bench.paths import run_path
from bench.run_outputs import transformed_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("fed_step")
CACHED_BATCHES = 20
PROBE = "random batch (the precision probe)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="outputs", help="a finished run's --output-dir")
    parser.add_argument("--preset", default="demo", help="the preset that run used")
    parser.add_argument("--steps", type=int, default=100, help="steps per feed per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    import tensorflow as tf

    from core import config as configs
    from models.training import execution, inputs, timing
    from models.training.model import build_training_model

    data = transformed_data(args.run, ("train",))
    trainer_config = configs.get_config(args.preset).with_dataset(data.dataset).trainer()
    plan = execution.plan_for(trainer_config)
    model = build_training_model(
        trainer_config, tf.distribute.get_strategy(), plan.precision, plan.jit_compile, 10_000
    )
    train_function = model.make_train_function()
    real = inputs.from_tfrecords(
        data.files["train"], data.feature_spec, trainer_config, training=True
    )
    feeds = {
        PROBE: iter(tf.data.Dataset.from_tensors(timing.random_batch(trainer_config)).repeat()),
        "real batches held in memory": iter(real.take(CACHED_BATCHES).cache().repeat()),
        "the Trainer's input pipeline": iter(real),
    }
    per_call = trainer_config.training.steps_per_execution
    for iterator in feeds.values():  # tracing, the cache filled, the pipeline's buffers full
        for _ in range(max(CACHED_BATCHES // per_call, 1) + 1):
            float(train_function(iterator)["loss"])
    timings: dict[str, list[float]] = {name: [] for name in feeds}
    calls = max(args.steps // per_call, 1)
    for _ in range(args.rounds):
        for name, iterator in feeds.items():
            started = time.perf_counter()
            for _ in range(calls):
                result = train_function(iterator)
            float(result["loss"])
            timings[name].append((time.perf_counter() - started) / (calls * per_call))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    probe = medians[PROBE]
    results = {
        "machine": describe_machine(),
        "preset": args.preset,
        "precision": plan.precision,
        "steps_per_round": calls * per_call,
        "ms_per_step": {name: 1000 * value for name, value in medians.items()},
        "relative_to_probe": {name: value / probe for name, value in medians.items()},
        "rounds": {name: [1000 * v for v in values] for name, values in timings.items()},
    }
    for name, value in medians.items():
        print(f"{name:<36} {1000 * value:6.1f} ms/step  {value / probe:5.2f}x")
    write_results(RESULTS, results)
    print(json.dumps(results["ms_per_step"]))
    return 0
