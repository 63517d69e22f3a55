"""Trains a few steps of the test preset on fixed data through the Trainer's own plan, model and
fit, and prints the losses as JSON: run alone, over logical CPU devices, or as one worker of a
TF_CONFIG cluster, so tests can compare them (tests/test_replicas.py).

    python -m tests.replica_losses --devices 2 --batch-size 4 --steps 5 --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--jit", default="off")
    parser.add_argument("--out", required=True)
    parser.add_argument("--backup", default=None, help="BackupAndRestore folder, to resume")
    parser.add_argument("--die-at-step", type=int, default=0, help="exit(1) after this step")
    args = parser.parse_args(argv)

    from models.training import execution

    if args.devices > 1:
        assert execution.logical_cpus(args.devices)
    import numpy as np
    import tensorflow as tf

    from components.example_gen.oxford import OXFORD_PETS
    from core import contracts
    from core.config import get_config
    from models.training import budget
    from models.training.model import build_training_model

    plan = execution.plan_execution(args.precision, args.jit, None, args.devices)
    config = (
        get_config(
            "test", batch_size=args.batch_size, train_steps=args.steps, precision=args.precision
        )
        .with_dataset(OXFORD_PETS)
        .trainer()
    )
    tf.keras.utils.set_random_seed(0)
    model = build_training_model(config, plan.strategy, plan.precision, plan.jit_compile)
    rng = np.random.default_rng(0)
    count = args.batch_size  # one batch, repeated: a resumed run sees the same data
    tiles = rng.integers(0, 256, (count, 92, 92, 3), dtype=np.uint8)
    labels = rng.integers(0, 3, (count, 52, 52)).astype(np.int64)
    labels[:, :4] = contracts.IGNORE_LABEL  # an IGNORE band, as the canvas has
    weights = np.where(labels == contracts.IGNORE_LABEL, 0.0, 1.0 + (labels == 0)).astype("f4")
    targets = {contracts.LABEL_KEY: labels, contracts.WEIGHTS_KEY: weights}
    data = tf.data.Dataset.from_tensor_slices((tiles, targets)).batch(args.batch_size).repeat()
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data = data.with_options(options)

    losses: list[float] = []

    class Record(tf.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            losses.append(float(logs["loss"]))
            step = int(self.model.optimizer.iterations.numpy())
            if args.die_at_step and step >= args.die_at_step:
                os._exit(1)  # killed: no cleanup, no checkpoint of this epoch

    callbacks = [Record(), budget.StopAtHorizon()]
    if args.backup:
        callbacks.insert(0, tf.keras.callbacks.BackupAndRestore(args.backup))
    model.fit(data, epochs=args.steps, steps_per_epoch=1, callbacks=callbacks, verbose=0)
    result = {
        "losses": losses,
        "replicas": plan.strategy.num_replicas_in_sync,
        "workers": plan.num_workers,
        "chief": plan.is_chief,
        "steps": int(model.optimizer.iterations.numpy()),
        "loss_scale": type(model.optimizer).__name__,
        # each worker proposes its own horizon; all must take the first replica's
        "agreed_steps": budget.chief_steps(plan.strategy, 100 + plan.task_index),
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"losses-{plan.task_index}.json"), "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    import startup

    startup.start(filter_stderr=True)
    sys.exit(main(sys.argv[1:]))
