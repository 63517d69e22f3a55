"""The training model: the U-Net compiled with the paper's weighted loss and IGNORE-aware metrics.

The loss needs a weight map per pixel, so the train and test steps are written out
(`WeightedSegmentationModel`) instead of going through Keras' (y_true, y_pred) loss interface.
"""

from __future__ import annotations

import re

import tensorflow as tf

from core import contracts
from core.config import TrainerConfig, TrainingConfig
from models.network.unet import build_unet
from models.training import budget, loss, metrics

keras = tf.keras


@keras.utils.register_keras_serializable(package="petunet")
class WeightedSegmentationModel(keras.Model):
    """A functional U-Net whose train/test steps use the paper's weighted loss.

    Targets are {label, weights}: IGNORE pixels have weight 0 and are left out of the metrics.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def _replica_loss(self, targets: dict[str, tf.Tensor], logits: tf.Tensor) -> tf.Tensor:
        """This replica's share of the global batch's loss: its weighted sum over the valid pixels
        of the whole global batch (all replicas, all workers), so that the gradients the strategy
        sums over the replicas are those of one replica holding the whole batch."""
        total, count = loss.weighted_pixel_sums(
            targets[contracts.LABEL_KEY], logits, targets[contracts.WEIGHTS_KEY]
        )
        context = tf.distribute.get_replica_context()
        if context.num_replicas_in_sync > 1:
            count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
        return tf.math.divide_no_nan(total, count)

    def _update_metrics(self, targets: dict[str, tf.Tensor], logits, replica_loss) -> dict:
        # The tracker averages over replicas: each reports its share times their number.
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        self.loss_tracker.update_state(replica_loss * replicas)
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
            replica_loss = self._replica_loss(targets, logits)
        self.optimizer.minimize(replica_loss, self.trainable_variables, tape=tape)
        return self._update_metrics(targets, logits, replica_loss)

    @tf.autograph.experimental.do_not_convert
    def test_step(self, batch):
        tiles, targets = batch
        logits = self(tiles, training=False)
        return self._update_metrics(targets, logits, self._replica_loss(targets, logits))

    @property
    def metrics(self):
        return [self.loss_tracker, *super().metrics]


WARMUP_FRACTION = 0.2  # of the steps, a warm start's rate rises linearly from 0


def learning_rate(
    config: TrainingConfig, horizon: tf.Variable | None = None
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The configured rate; a cosine schedule follows the optimizer's step counter, which
    BackupAndRestore restores, so a resumed run continues on the same curve, and ends at the
    horizon (the steps a time budget settles on; train_steps without one)."""
    if horizon is None:
        horizon = tf.Variable(config.train_steps, trainable=False, dtype=tf.int64)
    rate: float | keras.optimizers.schedules.LearningRateSchedule = config.learning_rate
    if config.lr_schedule == "cosine":
        rate = budget.CosineToHorizon(config.learning_rate, horizon, config.lr_final_fraction)
    if config.warm_start:  # fresh optimizer moments on trained weights: ease in
        return budget.LinearWarmup(rate, horizon, WARMUP_FRACTION)
    return rate


def make_optimizer(
    config: TrainingConfig, precision: str, horizon: tf.Variable | None = None
) -> keras.optimizers.Optimizer:
    rate = learning_rate(config, horizon)
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
    steps: int | None = None,
) -> keras.Model:
    """The configured U-Net, compiled with the paper's loss and IGNORE-aware metrics; it holds
    the step training ends at (`steps`, train_steps by default) as a variable (budget.py)."""
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
        budget.add_budget_variables(model, steps or config.training.train_steps)
        # The metrics' results are already reduced over all replicas; Keras' default for a
        # multi-worker strategy sums them again per step (2 workers logged twice the loss).
        model.distribute_reduction_method = "first"
        model.compile(
            optimizer=make_optimizer(config.training, precision, budget.horizon_of(model)),
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
