"""One training: data, execution plan, the paper's loss, resumable fit, export.

`train` runs a TrainingJob in the Trainer's process or in a worker process of the cluster
(models/training/cluster.py); `models/training/run_fn.py` decides which.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import math
import os
import time
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from core import contracts, errors, node_ids, run_paths
from core.config import TrainerConfig
from models.training import budget, execution, inputs, memory, warm_start
from models.training.job import TrainingJob
from models.training.model import build_training_model
from models.training.panels import ValidationPanel
from models.training.progress import TrainingProgress

keras = tf.keras
TRAINING_LOG = "training_log.csv"
SUMMARY_FILE = "summary.json"


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


def backup_dir(
    backup_root: str, config: TrainerConfig, train_files: list[str], base_model: str | None = None
) -> str:
    """Where BackupAndRestore keeps its checkpoint: stable across re-runs of the same training.

    Keyed by the training section with what it trains on (the geometry, the data set, the
    examples' content), so a re-run of an interrupted Trainer resumes, and a different training
    never picks up a foreign checkpoint. Thresholds, gates, Beam's flags and the export's settings
    are not part of it.
    """
    start = f"|from {base_model}" if base_model else ""
    key = hashlib.sha1((config.checkpoint_key() + data_key(train_files) + start).encode())
    key = key.hexdigest()
    return os.path.join(backup_root, key[:16])


def _has_checkpoint(backup: str) -> bool:
    return bool(tf.io.gfile.glob(os.path.join(backup, "**", "checkpoint")) or tf.io.gfile.glob(
        os.path.join(backup, "*", "checkpoint")
    ))  # fmt: skip


def fit(
    model: keras.Model,
    train: tf.data.Dataset,
    evaluation: tf.data.Dataset,
    config: TrainerConfig,
    log_dir: str,
    backup: str,
    extra_callbacks: tuple[keras.callbacks.Callback, ...] = (),
    limits: budget.TrainingTime | None = None,
) -> keras.callbacks.History:
    """Trains to the model's horizon (train_steps, or what the time budget settles on),
    validating and checkpointing every checkpoint_every_steps.

    Progress goes to the console (TrainingProgress), curves per class and the panel of eval
    examples to TensorBoard, the metrics per epoch to training_log.csv.
    """
    settings = config.training
    planned = budget.chief_steps(model.distribute_strategy, int(budget.horizon_of(model).numpy()))
    budget.horizon_of(model).assign(planned)
    steps_per_epoch = min(settings.checkpoint_every_steps, planned)
    # Epochs enough for the most steps a budget may grant; StopAtHorizon ends the run on time.
    epochs = math.ceil(max(settings.train_steps, planned) / steps_per_epoch)
    limits = limits or budget.TrainingTime(settings.train_minutes)
    callbacks = [
        keras.callbacks.BackupAndRestore(backup),
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"),
        keras.callbacks.CSVLogger(os.path.join(log_dir, TRAINING_LOG), append=True),
        TrainingProgress(settings.batch_size),
        budget.StopAtHorizon(),
        *([budget.TimeBudget(limits, settings.train_steps)] if limits.timed else []),
        *extra_callbacks,
    ]
    if _has_checkpoint(backup):
        logging.info("petunet: resuming training from the checkpoint in %s", backup)
    history = model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=evaluation,
        validation_steps=settings.eval_steps,
        callbacks=callbacks,
        verbose=0,
    )
    stop_input_pipelines()
    return history


SLOW_STOP_SECONDS = 2.0


def stop_input_pipelines() -> float:
    """Frees fit's dataset iterators now and says so when that was slow.

    Keras leaves them in reference cycles; TensorFlow joins an iterator's threads when its last
    reference goes, so an ordinary collection during the export would otherwise make the export
    wait for them (tens of seconds) and the wait would be counted as exporting.
    """
    start = time.perf_counter()
    gc.collect()
    seconds = time.perf_counter() - start
    if seconds > SLOW_STOP_SECONDS:
        logging.info("petunet: the training input pipeline took %.0f s to stop", seconds)
    return seconds


def planned_steps(
    config: TrainerConfig, plan: execution.ExecutionPlan, limits: budget.TrainingTime
) -> tuple[int, str]:
    """The first estimate of the steps: train_steps, or what fits the training's time at the
    step time measured here (the precision probe's, or a timing of the chosen model)."""
    settings = config.training
    seconds = plan.seconds_per_step
    if limits.timed and seconds is None:
        from models.training.timing import seconds_per_step

        probe = build_training_model(config, plan.strategy, plan.precision, plan.jit_compile)
        seconds = seconds_per_step(probe, config)
    return budget.first_estimate(settings.train_steps, limits, seconds)


def _export_dir(job: TrainingJob, plan: execution.ExecutionPlan) -> str:
    """The chief exports where TFX looks; other workers write to a temporary folder (they must
    take part in saving the distributed variables) that is removed afterwards."""
    if plan.is_chief:
        return job.serving_model_dir
    return os.path.join(job.model_run_dir, f".worker-{plan.task_index}-export")


def machine_problem(error: Exception, precision: str, batch_size: int) -> Exception:
    """What a TensorFlow error in training says about this machine, as the runner's one line
    (MachineProblem, exit code 3), or the error itself when it says nothing of the kind."""
    kernels = errors.missing_kernels(error)
    message = kernels or errors.message_of(error)
    if errors.is_disk_full(error):
        path = next((w for w in message.split() if w.startswith("/") or "://" in w), "")
        return errors.MachineProblem(
            f"the disk is full writing {path.rstrip(';')}; free space under --output-dir and "
            "run again: training resumes from its last checkpoint"
        )
    if errors.is_out_of_memory(error):
        return errors.MachineProblem(
            f"out of memory training batches of {batch_size} in {precision} ({message[:160]}); "
            "use a machine with more memory, or a smaller --batch-size"
        )
    if kernels:
        return errors.MachineProblem(
            f"this machine has no {precision} kernels for the network ({message[:160]}); train "
            "with --precision auto (it falls back to float32) or --precision float32"
        )
    return error


def train(job: TrainingJob, data_accessor: Any) -> None:
    """One training: the plan for this machine (or this worker of a cluster), the data, resumable
    fit, the summary and the export."""
    config = job.config
    settings = config.training
    limits = budget.TrainingTime(settings.train_minutes)
    if execution.cluster_spec() is None:  # a worker of a cluster must make its strategy first
        smallest = "float32" if settings.precision == "float32" else "mixed_bfloat16"
        replicas = memory.replicas_expected(settings.train_devices, 1)
        memory.check_before_training(config, smallest, replicas)  # before the probe's steps
    plan = execution.plan_for(config)
    try:
        _train(job, data_accessor, config, plan, limits)
    except tf.errors.OpError as error:
        problem = machine_problem(error, plan.precision, config.training.batch_size)
        if problem is error:
            raise
        raise problem from error


def _train(
    job: TrainingJob,
    data_accessor: Any,
    config: TrainerConfig,
    plan: execution.ExecutionPlan,
    limits: budget.TrainingTime,
) -> None:
    from models.serving import export

    steps, why_steps = planned_steps(config, plan, limits)
    logging.info("petunet: training %s", why_steps)
    if config.training.training_seed:  # after the probes, whose draws vary with the machine
        keras.utils.set_random_seed(config.training.training_seed)
    transform = tft.TFTransformOutput(job.transform_output)
    schema = transform.transformed_metadata.schema
    train_data = inputs.from_data_accessor(
        data_accessor, job.train_files, schema, config, training=True
    )
    eval_data = inputs.from_data_accessor(
        data_accessor, job.eval_files, schema, config, training=False
    )
    model = build_training_model(config, plan.strategy, plan.precision, plan.jit_compile, steps)
    replicas = plan.strategy.num_replicas_in_sync
    memory.check_fits(  # again, at the precision the plan chose
        memory.step_memory(model, config.training.optimizer),
        max(config.training.batch_size // replicas, 1),
        tf.config.list_physical_devices("GPU"),
    )
    backup_root = job.custom_config.get(contracts.TRAINER_BACKUP_ROOT_KEY) or os.path.join(
        job.model_run_dir, "backup"
    )
    backup_root = run_paths.resolve(backup_root, job.model_run_dir, node_ids.TRAINER)
    start = warm_start.begin(model, config, job.base_model)
    tf.io.gfile.makedirs(job.model_run_dir)
    panels = (ValidationPanel(next(iter(eval_data)), job.model_run_dir, config.dataset),)
    history = fit(
        model,
        train_data,
        eval_data,
        config,
        job.model_run_dir if plan.is_chief else _export_dir(job, plan) + "-logs",
        backup_dir(backup_root, config, job.train_files, start),
        panels if plan.is_chief else (),
        limits,
    )
    trained = int(model.optimizer.iterations.numpy())
    summary = {
        "device": plan.device,
        "execution": plan.reason,
        "replicas": plan.strategy.num_replicas_in_sync,
        "workers": plan.num_workers,
        "global_batch": config.training.batch_size,
        "steps": trained,
        "steps_planned": why_steps,
        "warm_start_from": start,
        "final": {k: float(v[-1]) for k, v in history.history.items()},
    }
    if plan.is_chief:
        with tf.io.gfile.GFile(os.path.join(job.model_run_dir, SUMMARY_FILE), "w") as out:
            out.write(json.dumps(summary, indent=2))
    logging.info("petunet: training done: %d steps on %s (%s)", trained, plan.device, plan.reason)
    destination = _export_dir(job, plan)
    export.export_serving_model(
        model,
        transform,
        config.tile_size,
        destination,
        config.dataset,
        config.serving.max_image_megapixels,
        config.serving.serving_default,
    )
    if not plan.is_chief:
        for leftover in (destination, destination + "-logs"):
            if tf.io.gfile.exists(leftover):
                tf.io.gfile.rmtree(leftover)
