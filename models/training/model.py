"""The training model: the U-Net compiled with the paper's weighted loss and IGNORE-aware metrics.

The loss needs a weight map per pixel, so the train and test steps are written out
(`WeightedSegmentationModel`) instead of going through Keras' (y_true, y_pred) loss interface.
"""

from __future__ import annotations

import re

import tensorflow as tf

from models import contracts
from models.config import TrainerConfig, TrainingConfig
from models.network.unet import build_unet
from models.training import loss, metrics

keras = tf.keras


@keras.utils.register_keras_serializable(package="petunet")
class WeightedSegmentationModel(keras.Model):
    """A functional U-Net whose train/test steps use the paper's weighted loss.

    Targets are {label, weights}: IGNORE pixels have weight 0 and are left out of the metrics.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def _step_loss(self, targets: dict[str, tf.Tensor], logits: tf.Tensor) -> tf.Tensor:
        return loss.weighted_pixel_loss(
            targets[contracts.LABEL_KEY], logits, targets[contracts.WEIGHTS_KEY]
        )

    def _update_metrics(self, targets: dict[str, tf.Tensor], logits, step_loss) -> dict:
        self.loss_tracker.update_state(step_loss)
        self.compiled_metrics.update_state(targets[contracts.LABEL_KEY], logits)
        return {m.name: m.result() for m in self.metrics}

    # No tensor-dependent Python control flow in either step: AutoGraph need not convert them,
    # and when it does it recurses into tf_keras (not on its do-not-convert list) and fails on
    # mixed precision's `create_autocast_variable`, with a warning block on every run.
    @tf.autograph.experimental.do_not_convert
    def train_step(self, batch):
        tiles, targets = batch
        with tf.GradientTape() as tape:
            logits = self(tiles, training=True)
            step_loss = self._step_loss(targets, logits)
            # Gradients are summed over replicas: scale so that N replicas average.
            replica_loss = step_loss / tf.distribute.get_strategy().num_replicas_in_sync
        self.optimizer.minimize(replica_loss, self.trainable_variables, tape=tape)
        return self._update_metrics(targets, logits, step_loss)

    @tf.autograph.experimental.do_not_convert
    def test_step(self, batch):
        tiles, targets = batch
        logits = self(tiles, training=False)
        return self._update_metrics(targets, logits, self._step_loss(targets, logits))

    @property
    def metrics(self):
        return [self.loss_tracker, *super().metrics]


def learning_rate(
    config: TrainingConfig,
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The configured rate; a cosine schedule follows the optimizer's step counter, which
    BackupAndRestore restores, so a resumed run continues on the same curve."""
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            config.learning_rate, config.train_steps, alpha=config.lr_final_fraction
        )
    return config.learning_rate


def make_optimizer(config: TrainingConfig, precision: str) -> keras.optimizers.Optimizer:
    rate = learning_rate(config)
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(rate, momentum=config.momentum)
    else:
        optimizer = keras.optimizers.Adam(rate)
    if precision == "mixed_float16":
        optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer


def build_training_model(
    config: TrainerConfig,
    strategy: tf.distribute.Strategy,
    precision: str,
    jit_compile: bool,
) -> keras.Model:
    """The configured U-Net, compiled with the paper's loss and IGNORE-aware metrics."""
    with strategy.scope():
        unet = build_unet(
            config.tile_size,
            depth=config.depth,
            base_filters=config.training.base_filters,
            input_channels=config.input_channels,
            num_classes=config.num_classes,
            dropout_rate=config.training.dropout_rate,
            dtype_policy=precision,
            input_dtype="uint8",
        )
        model = WeightedSegmentationModel(unet.inputs, unet.outputs, name="unet")
        model.compile(
            optimizer=make_optimizer(config.training, precision),
            metrics=[
                metrics.PixelAccuracy(config.num_classes),
                metrics.IgnoringMeanIoU(config.num_classes),
                *(
                    metrics.ClassIoU(c, config.num_classes, name=re.sub(r"\W+", "_", name) + "_iou")
                    for c, name in enumerate(config.dataset.class_names)
                ),
            ],
            jit_compile=jit_compile,
            steps_per_execution=config.training.steps_per_execution,
        )
    return model
