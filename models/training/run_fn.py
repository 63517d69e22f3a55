"""The Trainer's entry point, which TFX loads by module path: the job from fn_args, trained here or
in processes of its own.

The pipeline passes the sections the Trainer reads in custom_config (core.config.TrainerConfig)
and the step counts as TFX's TrainArgs/EvalArgs. A cluster of local workers, or logical CPU devices,
which TensorFlow only sets up before it starts, need processes of their own
(models/training/cluster.py); everything else trains in the Trainer's process.
"""

from __future__ import annotations

from typing import Any

from models.training import cluster, trainer
from models.training.job import TrainingJob


def run_fn(fn_args: Any) -> None:
    """TFX Trainer entry point."""
    job = TrainingJob.from_fn_args(fn_args)
    if cluster.needs_own_processes(job.config):
        cluster.train_in_processes(job)
    else:
        trainer.train(job, fn_args.data_accessor)
