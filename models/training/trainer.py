"""The Trainer's run_fn: data, execution plan, the paper's loss, resumable fit, export.

TFX loads this module by path (`run_fn`); the pipeline passes the whole PipelineConfig as JSON in
custom_config["config"].
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os

import tensorflow as tf
import tensorflow_transform as tft

from models.config import PipelineConfig
from models.serving import export
from models.training import execution, inputs
from models.training.model import build_training_model
from models.training.panels import ValidationPanel
from models.training.progress import TrainingProgress

keras = tf.keras
CONFIG_KEY = "config"
BACKUP_ROOT_KEY = "backup_root"
TRAINING_LOG = "training_log.csv"


def backup_dir(backup_root: str, config: PipelineConfig, train_files: list[str]) -> str:
    """Where BackupAndRestore keeps its checkpoint: stable across re-runs of the same training.

    Keyed by the config and the input files, so a re-run of an interrupted Trainer resumes, and a
    different training never picks up a foreign checkpoint.
    """
    key = hashlib.sha1((config.to_json() + "|".join(sorted(train_files))).encode()).hexdigest()
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
    config: PipelineConfig,
    log_dir: str,
    backup: str,
    extra_callbacks: tuple[keras.callbacks.Callback, ...] = (),
) -> keras.callbacks.History:
    """Trains for config.train_steps, validating and checkpointing every checkpoint_every_steps.

    Progress goes to the console (TrainingProgress), curves per class and the panel of eval
    examples to TensorBoard, the metrics per epoch to training_log.csv.
    """
    steps_per_epoch = min(config.checkpoint_every_steps, config.train_steps)
    epochs = math.ceil(config.train_steps / steps_per_epoch)
    callbacks = [
        keras.callbacks.BackupAndRestore(backup),
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"),
        keras.callbacks.CSVLogger(os.path.join(log_dir, TRAINING_LOG), append=True),
        TrainingProgress(config.train_steps, config.batch_size),
        StopAtTrainSteps(config.train_steps),
        *extra_callbacks,
    ]
    return model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=evaluation,
        validation_steps=config.eval_steps,
        callbacks=callbacks,
        verbose=0,
    )


def run_fn(fn_args) -> None:
    """TFX Trainer entry point."""
    config = PipelineConfig.from_json(fn_args.custom_config[CONFIG_KEY])
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
    backup_root = fn_args.custom_config.get(BACKUP_ROOT_KEY) or os.path.join(
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
        config.max_image_megapixels,
    )
