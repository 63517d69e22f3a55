"""The first steps of the demo's training, again and again: how far a fresh network gets, and how
often it stalls (the border class still unlearnt, the pets half found), under variants of the
training settings.

    ./scripts/run.sh                                   # a demo run first, for its Transform output
    python -m bench early_training --run outputs \
        --variant class_balance=false --variant class_balance=true

Each trial seeds TensorFlow, builds the Trainer's model (the precision the plan picks here) and
trains it for --steps steps on the Trainer's input pipeline over that run's training split, then
validates on the eval split as the Trainer does. Trial i uses the same seed under every setting,
so each setting starts from the same weights. Writes outputs/bench/early_training.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from bench.machine import describe as describe_machine
from bench.machine import write_results
from bench.paths import run_path
from bench.run_outputs import transformed_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("early_training")
HORIZON = 6000  # the demo's steps on this machine: the cosine schedule decays over them


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="outputs", help="a finished run's --output-dir")
    parser.add_argument("--preset", default="demo", help="the preset that run used")
    parser.add_argument("--steps", type=int, default=550, help="training steps per trial")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument(
        "--variant", action="append", required=True,
        help="training settings, NAME=VALUE[,NAME=VALUE] (values as JSON: 0.05, true)",
    )  # fmt: skip
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    variants = {
        text: {
            name: json.loads(value)
            for name, value in (pair.split("=", 1) for pair in text.split(","))
        }
        for text in args.variant
    }

    import tensorflow as tf

    from core import config as configs
    from models.training import execution, inputs
    from models.training.model import build_training_model

    data = transformed_data(args.run, ("train", "eval"))
    spec, files = data.feature_spec, data.files
    trials: dict[str, list[dict[str, float]]] = {}
    for label, overrides in variants.items():
        config = configs.get_config(args.preset, **overrides).with_dataset(data.dataset).trainer()
        plan = execution.plan_for(config)
        per_call = config.training.steps_per_execution
        rows = trials.setdefault(label, [])
        for trial in range(args.trials):
            tf.keras.backend.clear_session()
            tf.keras.utils.set_random_seed(trial)
            model = build_training_model(
                config, tf.distribute.get_strategy(), plan.precision, plan.jit_compile, HORIZON
            )
            train = iter(inputs.from_tfrecords(files["train"], spec, config, training=True))
            train_function = model.make_train_function()
            started = time.perf_counter()
            for _ in range(args.steps // per_call):
                logs = train_function(train)
            loss = float(logs["loss"])
            seconds = time.perf_counter() - started
            evaluation = inputs.from_tfrecords(files["eval"], spec, config, training=False)
            scores = model.evaluate(
                evaluation, steps=config.training.eval_steps, return_dict=True, verbose=0
            )
            row = {"seed": trial, "train_loss": loss, "seconds": seconds}
            row.update({f"val_{k}": float(v) for k, v in scores.items()})
            rows.append(row)
            print(
                f"{label} seed {trial}: loss {loss:.3f}, val mean IoU "
                f"{row['val_mean_iou']:.3f}, pet {row['val_pet_iou']:.3f}, "
                f"border {row['val_border_iou']:.3f} ({seconds:.0f} s)",
                flush=True,
            )
    results = {
        "machine": describe_machine(),
        "preset": args.preset,
        "steps": args.steps,
        "horizon": HORIZON,
        "trials": trials,
    }
    write_results(args.out, results)
    print(json.dumps({k: [round(r["val_mean_iou"], 3) for r in v] for k, v in trials.items()}))
    return 0
