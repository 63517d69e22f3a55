"""The Trainer's run_fn: data, strategy, precision, the paper's loss, resumable fit, export.

TFX loads this module by path (`module_file`/`run_fn`); the pipeline passes the whole
PipelineConfig as JSON in custom_config["config"].
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable

import tensorflow as tf
import tensorflow_transform as tft

from models import data, export, features, hardware, losses, metrics
from models.unet import build_unet
from pipeline.configs import PipelineConfig

keras = tf.keras
CONFIG_KEY = "config"
BACKUP_ROOT_KEY = "backup_root"
TRAINING_LOG = "training_log.csv"


@keras.utils.register_keras_serializable(package="petunet")
class WeightedSegmentationModel(keras.Model):
    """A functional U-Net whose train/test steps use the paper's weighted loss.

    Targets are {label, weights}: IGNORE pixels have weight 0 and are left out of the metrics.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def _step_loss(self, targets: dict[str, tf.Tensor], logits: tf.Tensor) -> tf.Tensor:
        return losses.weighted_pixel_loss(targets[features.LABEL_KEY], logits, targets["weights"])

    def _update_metrics(self, targets: dict[str, tf.Tensor], logits, loss) -> dict:
        self.loss_tracker.update_state(loss)
        self.compiled_metrics.update_state(targets[features.LABEL_KEY], logits)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, batch):
        tiles, targets = batch
        with tf.GradientTape() as tape:
            logits = self(tiles, training=True)
            loss = self._step_loss(targets, logits)
            # Gradients are summed over replicas: scale so that N replicas average.
            replica_loss = loss / tf.distribute.get_strategy().num_replicas_in_sync
        self.optimizer.minimize(replica_loss, self.trainable_variables, tape=tape)
        return self._update_metrics(targets, logits, loss)

    def test_step(self, batch):
        tiles, targets = batch
        logits = self(tiles, training=False)
        return self._update_metrics(targets, logits, self._step_loss(targets, logits))

    @property
    def metrics(self):
        return [self.loss_tracker, *super().metrics]


def learning_rate(
    config: PipelineConfig,
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The configured rate; a cosine schedule follows the optimizer's step counter, which
    BackupAndRestore restores, so a resumed run continues on the same curve."""
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            config.learning_rate, config.train_steps, alpha=config.lr_final_fraction
        )
    return config.learning_rate


def make_optimizer(config: PipelineConfig, precision: str) -> keras.optimizers.Optimizer:
    rate = learning_rate(config)
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(rate, momentum=config.momentum)
    else:
        optimizer = keras.optimizers.Adam(rate)
    if precision == "mixed_float16":
        optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer


def build_training_model(
    config: PipelineConfig,
    strategy: tf.distribute.Strategy,
    precision: str,
    jit_compile: bool,
) -> keras.Model:
    """The configured U-Net, compiled with the paper's loss and IGNORE-aware metrics."""
    with strategy.scope():
        unet = build_unet(
            config.tile_size,
            depth=config.depth,
            base_filters=config.base_filters,
            input_channels=config.input_channels,
            num_classes=config.num_classes,
            dropout_rate=config.dropout_rate,
            dtype_policy=precision,
            input_dtype="uint8",
        )
        model = WeightedSegmentationModel(unet.inputs, unet.outputs, name="unet")
        model.compile(
            optimizer=make_optimizer(config, precision),
            metrics=[
                metrics.PixelAccuracy(config.num_classes),
                metrics.IgnoringMeanIoU(config.num_classes),
            ],
            jit_compile=jit_compile,
            steps_per_execution=config.steps_per_execution,
        )
    return model


def random_batch(config: PipelineConfig) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """A batch of the training input's shapes and dtypes (probes, benchmarks)."""
    tiles = tf.random.uniform(
        [config.batch_size, config.tile_size, config.tile_size, config.input_channels],
        maxval=256,
        dtype=tf.int32,
    )
    labels = tf.random.uniform(
        [config.batch_size, config.output_size, config.output_size],
        maxval=config.num_classes,
        dtype=tf.int64,
    )
    targets = {features.LABEL_KEY: labels, "weights": tf.ones(labels.shape, tf.float32)}
    return tf.cast(tiles, tf.uint8), targets


def step_function(model: keras.Model, batch) -> Callable[[], dict[str, tf.Tensor]]:
    """One call of Keras' own compiled train function on `batch`: as many optimizer steps as the
    model was compiled with (`steps_per_execution`, 1 for a default compile)."""
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    train_function = model.make_train_function()
    return lambda: train_function(iterator)


def time_steps(step: Callable[[], object], steps: int, steps_per_call: int = 1) -> float:
    """Seconds per train step over at least `steps` steps of `step`, which runs `steps_per_call`
    steps per call (whole calls only), including the wait for the last call's result."""
    calls = math.ceil(steps / steps_per_call)
    started = time.perf_counter()
    for _ in range(calls):
        result = step()
    tf.nest.flatten(result)[0].numpy()  # wait for the last call
    return (time.perf_counter() - started) / (calls * steps_per_call)


def seconds_per_step(
    model: keras.Model, config: PipelineConfig, steps: int = 3, repeats: int = 2
) -> float:
    """Wall time of one train step of `model` on random data, after one warm-up (tracing) call:
    the best of `repeats` timings of `steps` steps, so that a passing load spike does not decide.
    Calls Keras' compiled train function directly: `fit` adds a per-call setup cost that hid a
    1.5x difference between float32 and mixed_bfloat16 in 3-step timings. With
    steps_per_execution > 1, each call runs that many steps: at least `steps` steps are timed."""
    step = step_function(model, random_batch(config))
    float(step()["loss"])
    return min(time_steps(step, steps, config.steps_per_execution) for _ in range(repeats))


def plan_for(config: PipelineConfig) -> hardware.ExecutionPlan:
    """The Trainer's execution plan for `config`; where precision is "auto" on a bfloat16 CPU,
    it is decided by timing this config's model (with the XLA setting the plan will use)."""
    jit_rule, _ = hardware.choose_jit(config.jit_compile, tf.config.list_physical_devices("GPU"))

    def probe(policy: str) -> float:
        model = build_training_model(config, tf.distribute.get_strategy(), policy, jit_rule)
        return seconds_per_step(model, config)

    return hardware.plan_execution(config.precision, config.jit_compile, probe)


def backup_dir(backup_root: str, config: PipelineConfig, train_files: list[str]) -> str:
    """Where BackupAndRestore keeps its checkpoint: stable across re-runs of the same training.

    Keyed by the config and the input files, so a re-run of an interrupted Trainer resumes, and a
    different training never picks up a foreign checkpoint.
    """
    key = hashlib.sha1((config.to_json() + "|".join(sorted(train_files))).encode()).hexdigest()
    return os.path.join(backup_root, key[:16])


def fit(
    model: keras.Model,
    train: tf.data.Dataset,
    evaluation: tf.data.Dataset,
    config: PipelineConfig,
    log_dir: str,
    backup: str,
) -> keras.callbacks.History:
    """Trains for config.train_steps, validating and checkpointing every checkpoint_every_steps."""
    steps_per_epoch = min(config.checkpoint_every_steps, config.train_steps)
    epochs = math.ceil(config.train_steps / steps_per_epoch)
    callbacks = [
        keras.callbacks.BackupAndRestore(backup),
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"),
        keras.callbacks.CSVLogger(os.path.join(log_dir, TRAINING_LOG), append=True),
    ]
    return model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=evaluation,
        validation_steps=config.eval_steps,
        callbacks=callbacks,
        verbose=2,
    )


def run_fn(fn_args) -> None:
    """TFX Trainer entry point."""
    config = PipelineConfig.from_json(fn_args.custom_config[CONFIG_KEY])
    plan = plan_for(config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    schema = tf_transform_output.transformed_metadata.schema

    train = data.from_data_accessor(
        fn_args.data_accessor, fn_args.train_files, schema, config, training=True
    )
    evaluation = data.from_data_accessor(
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
    )
    summary = {
        "device": plan.device,
        "execution": plan.reason,
        "final": {k: float(v[-1]) for k, v in history.history.items()},
    }
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, "summary.json"), "w") as out:
        out.write(json.dumps(summary, indent=2))
    logging.info("petunet training done: %s", summary)
    export.export_serving_model(
        model, tf_transform_output, config.tile_size, fn_args.serving_model_dir
    )
