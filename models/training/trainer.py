"""The Trainer's run_fn: data, execution plan, the paper's loss, resumable fit, export.

TFX loads this module by path (`run_fn`). The pipeline passes the sections the Trainer reads in
custom_config (models.config.TrainerConfig) and the step counts as TFX's TrainArgs/EvalArgs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os

import tensorflow as tf
import tensorflow_transform as tft

from models import contracts
from models.config import TrainerConfig
from models.serving import export
from models.training import execution, inputs
from models.training.model import build_training_model
from models.training.panels import ValidationPanel
from models.training.progress import TrainingProgress

keras = tf.keras
TRAINING_LOG = "training_log.csv"


def data_key(train_files: list[str]) -> str:
    """What the training examples hold, as Transform recorded it (the data files, the
    ExampleGen's and Transform's settings and code), so a re-run that remade the same examples
    into new folders (--no-cache) still finds its checkpoint; the file paths where it did not."""
    keys = []
    for pattern in sorted(train_files):
        root = os.path.dirname(os.path.dirname(pattern))
        path = os.path.join(root, contracts.CONTENT_KEY_FILE)
        if not tf.io.gfile.exists(path):
            return "|".join(sorted(train_files))
        with tf.io.gfile.GFile(path) as f:
            keys.append(f.read().strip())
    return "|".join(keys)


def backup_dir(backup_root: str, config: TrainerConfig, train_files: list[str]) -> str:
    """Where BackupAndRestore keeps its checkpoint: stable across re-runs of the same training.

    Keyed by the training section with what it trains on (the geometry, the data set, the
    examples' content), so a re-run of an interrupted Trainer resumes, and a different training
    never picks up a foreign checkpoint. Thresholds, gates, Beam's flags and the export's settings
    are not part of it.
    """
    key = hashlib.sha1((config.checkpoint_key() + data_key(train_files)).encode()).hexdigest()
    return os.path.join(backup_root, key[:16])


class StopAtTrainSteps(keras.callbacks.Callback):
    """Ends training once the optimizer has taken `train_steps` steps.

    fit() runs whole epochs of checkpoint_every_steps, so without this a train_steps that is not a
    multiple of it would be rounded up to one (2,500 steps in epochs of 550 ran 2,750). The check
    runs after each compiled call, so with steps_per_execution > 1 the last call completes; the
    cut epoch is still validated and checkpointed.
    """

    def __init__(self, train_steps: int) -> None:
        super().__init__()
        self.train_steps = train_steps

    def on_train_batch_end(self, batch, logs=None) -> None:
        if int(self.model.optimizer.iterations.numpy()) >= self.train_steps:
            self.model.stop_training = True


def fit(
    model: keras.Model,
    train: tf.data.Dataset,
    evaluation: tf.data.Dataset,
    config: TrainerConfig,
    log_dir: str,
    backup: str,
    extra_callbacks: tuple[keras.callbacks.Callback, ...] = (),
) -> keras.callbacks.History:
    """Trains for train_steps, validating and checkpointing every checkpoint_every_steps.

    Progress goes to the console (TrainingProgress), curves per class and the panel of eval
    examples to TensorBoard, the metrics per epoch to training_log.csv.
    """
    settings = config.training
    steps_per_epoch = min(settings.checkpoint_every_steps, settings.train_steps)
    epochs = math.ceil(settings.train_steps / steps_per_epoch)
    callbacks = [
        keras.callbacks.BackupAndRestore(backup),
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"),
        keras.callbacks.CSVLogger(os.path.join(log_dir, TRAINING_LOG), append=True),
        TrainingProgress(settings.train_steps, settings.batch_size),
        StopAtTrainSteps(settings.train_steps),
        *extra_callbacks,
    ]
    if tf.train.latest_checkpoint(os.path.join(backup, "chief")) or tf.train.latest_checkpoint(
        backup
    ):
        logging.info("petunet: resuming training from the checkpoint in %s", backup)
    return model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=evaluation,
        validation_steps=settings.eval_steps,
        callbacks=callbacks,
        verbose=0,
    )


def run_fn(fn_args) -> None:
    """TFX Trainer entry point."""
    config = TrainerConfig.from_custom_config(
        fn_args.custom_config, fn_args.train_steps, fn_args.eval_steps
    )
    plan = execution.plan_for(config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    schema = tf_transform_output.transformed_metadata.schema

    train = inputs.from_data_accessor(
        fn_args.data_accessor, fn_args.train_files, schema, config, training=True
    )
    evaluation = inputs.from_data_accessor(
        fn_args.data_accessor, fn_args.eval_files, schema, config, training=False
    )
    model = build_training_model(config, plan.strategy, plan.precision, plan.jit_compile)
    backup_root = fn_args.custom_config.get(contracts.TRAINER_BACKUP_ROOT_KEY) or os.path.join(
        fn_args.model_run_dir, "backup"
    )
    os.makedirs(fn_args.model_run_dir, exist_ok=True)
    history = fit(
        model,
        train,
        evaluation,
        config,
        fn_args.model_run_dir,
        backup_dir(backup_root, config, fn_args.train_files),
        (ValidationPanel(next(iter(evaluation)), fn_args.model_run_dir, config.dataset),),
    )
    summary = {
        "device": plan.device,
        "execution": plan.reason,
        "final": {k: float(v[-1]) for k, v in history.history.items()},
    }
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, "summary.json"), "w") as out:
        out.write(json.dumps(summary, indent=2))
    logging.info("petunet: training done on %s (%s)", plan.device, plan.reason)
    export.export_serving_model(
        model,
        tf_transform_output,
        config.tile_size,
        fn_args.serving_model_dir,
        config.dataset,
        config.serving.max_image_megapixels,
    )
