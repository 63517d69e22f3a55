"""The Trainer's budget: --train-steps, or the steps that fit --train-minutes (at most
--train-steps); nothing else sets it."""

from __future__ import annotations

import pytest
import tensorflow as tf

from components.example_gen.oxford import OXFORD_PETS
from core import config as configs
from models.training import budget, timing, trainer
from models.training.model import build_training_model


def test_minutes_bound_the_training_time_and_none_leaves_the_steps():
    assert not budget.TrainingTime(0.0).timed
    assert budget.TrainingTime(0.0).seconds_left(10.0) is None
    assert budget.TrainingTime(6.0).seconds_left(100.0) == 260.0
    assert budget.TrainingTime(1.0).seconds_left(100.0) == 0.0  # spent: no less than nothing


def test_the_first_estimate_says_what_set_it():
    steps, why = budget.first_estimate(20_000, budget.TrainingTime(3.0), 0.1)
    assert steps == int(180 / (0.1 * budget.FIRST_ESTIMATE_OVERHEAD))
    assert "at 100 ms/step measured here fit --train-minutes 3 (at most --train-steps 20000)" in why
    steps, _ = budget.first_estimate(50, budget.TrainingTime(3.0), 0.1)
    assert steps == 50  # the most
    assert budget.first_estimate(500, budget.TrainingTime(0.0), 0.1) == (500, "500 steps")


def test_a_setting_no_longer_there_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown config keys: \\['run_minutes'\\]"):
        configs.get_config("demo", run_minutes=5.0)


def test_fit_ends_when_its_minutes_are_spent_before_its_steps(tmp_path):
    # No time at all: the first epoch's end cuts the horizon to the steps done.
    config = configs.get_config(
        "test", train_steps=1000, checkpoint_every_steps=12, eval_steps=1
    ).with_dataset(OXFORD_PETS).trainer()  # fmt: skip
    model = build_training_model(config, tf.distribute.get_strategy(), "float32", False)
    batches = tf.data.Dataset.from_tensors(timing.random_batch(config)).repeat()
    limits = budget.TrainingTime(1e-9)
    trainer.fit(
        model, batches, batches, config, str(tmp_path / "logs"), str(tmp_path / "b"), (), limits
    )
    assert int(model.optimizer.iterations.numpy()) == 12  # one epoch (MIN_STEPS is 10)
    assert int(budget.horizon_of(model).numpy()) == 12
