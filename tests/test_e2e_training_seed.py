"""--training-seed: the Trainer's own training (plan, input pipeline, model, fit) on the first
end-to-end run's transformed examples gives the same model twice with one seed, and another model
with another seed."""

from __future__ import annotations

import glob
import json
import os

import pytest

from core import config as configs
from core import contracts, node_ids
from models.training import inputs, trainer
from models.training.job import TrainingJob
from pipeline import run_report

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(name="first_run")]


def _train(first_run, out: str, seed: int) -> dict:
    """Three steps of the test preset with `seed`; the final losses and metrics it recorded."""
    nodes = run_report.last_run(os.path.join(first_run[0], "metadata.sqlite"), "petunet")
    transform = nodes[node_ids.TRANSFORM]
    examples = transform.artifact("transformed_examples").uri
    config = configs.get_config(  # one precision: "auto" picks by a timing, which may differ
        "test", training_seed=seed, shuffle_buffer=4, precision="float32"
    )
    trainer_config = config.with_dataset(run_report.examples_dataset(nodes)).trainer()
    job = TrainingJob(
        train_files=[os.path.join(examples, "Split-train", "*")],
        eval_files=[os.path.join(examples, "Split-eval", "*")],
        transform_output=transform.artifact("transform_graph").uri,
        serving_model_dir=os.path.join(out, "serving"),
        model_run_dir=os.path.join(out, "run"),
        custom_config={
            **trainer_config.to_custom_config(),
            contracts.TRAINER_BACKUP_ROOT_KEY: os.path.join(out, "backup"),
        },
        train_steps=3,
        eval_steps=1,
    )
    trainer.train(job, inputs.RecordDataAccessor())
    assert glob.glob(os.path.join(out, "serving", "saved_model.pb"))
    with open(os.path.join(out, "run", trainer.SUMMARY_FILE)) as f:
        summary = json.load(f)
    assert summary["steps"] == 3
    return summary["final"]


def test_the_same_training_seed_trains_the_same_model(first_run, tmp_path):
    first = _train(first_run, str(tmp_path / "a"), seed=7)
    again = _train(first_run, str(tmp_path / "b"), seed=7)
    other = _train(first_run, str(tmp_path / "c"), seed=8)
    assert set(first) >= {"loss", "val_loss", "val_mean_iou"}
    assert again == first
    assert other["loss"] != first["loss"] and other["val_loss"] != first["val_loss"]
