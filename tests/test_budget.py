"""The Trainer's time: --train-minutes, and what --run-minutes leaves of a local run."""

from __future__ import annotations

import pytest
import tensorflow as tf

from components.example_gen.oxford import OXFORD_PETS
from models import config as configs
from models import contracts
from models.training import budget, timing, trainer
from models.training.model import build_training_model

STARTED = 1_000_000.0


def test_without_a_run_target_or_a_start_only_the_training_minutes_count():
    assert budget.training_time(6.0, 0.0, STARTED, STARTED + 60) == budget.TrainingTime(6.0)
    assert budget.training_time(6.0, 9.5, None, STARTED + 60) == budget.TrainingTime(6.0)
    assert not budget.TrainingTime(0.0).timed
    assert budget.TrainingTime(0.0).seconds_left(0.0, STARTED) is None


def test_the_deadline_keeps_a_share_of_the_time_before_the_trainer_for_what_follows():
    # 2 minutes to reach the Trainer: 0.9 x 120 s = 108 s are kept after training.
    limits = budget.training_time(8.0, 9.5, STARTED, STARTED + 120)
    assert limits.deadline == pytest.approx(STARTED + 570 - 108)
    assert "--run-minutes 9.5" in limits.why and "after the 2.0 min" in limits.why
    # a cached run reaches the Trainer at once: still 30 s for the Evaluators and the report
    quick = budget.training_time(8.0, 9.5, STARTED, STARTED + 10)
    assert quick.deadline == pytest.approx(STARTED + 570 - budget.MIN_AFTER_TRAINING_SECONDS)


def test_the_time_left_is_the_nearer_of_the_two_limits():
    limits = budget.TrainingTime(8.0, deadline=STARTED + 400)
    assert limits.seconds_left(0.0, STARTED) == 400  # the deadline before 8 minutes
    assert limits.seconds_left(300.0, STARTED + 100) == 180  # 480 - 300 before the deadline
    assert limits.seconds_left(0.0, STARTED + 500) == 0.0  # past it
    assert budget.TrainingTime(0.0, deadline=STARTED + 50).seconds_left(0.0, STARTED) == 50


def test_a_spent_run_target_still_trains_the_least_time():
    late = budget.TrainingTime(8.0, deadline=STARTED - 30, why="spent")
    floored = late.from_now(STARTED)
    assert floored.deadline == STARTED + budget.MIN_TRAINING_SECONDS
    assert "at least 60 s" in floored.why
    on_time = budget.TrainingTime(8.0, deadline=STARTED + 300)
    assert on_time.from_now(STARTED) is on_time


@pytest.mark.parametrize(
    "value,started", [("1700000000.5", 1700000000.5), ("", None), ("soon", None), ("inf", None)]
)
def test_the_run_start_is_read_from_the_runners_environment(value, started):
    assert budget.run_started({contracts.RUN_STARTED_ENV: value}) == started
    assert budget.run_started({}) is None


def test_the_first_estimate_says_which_limit_set_it():
    now = STARTED + 120
    by_run = budget.training_time(8.0, 9.5, STARTED, now)  # 570 - 108 - 120 = 342 s left
    steps, why = budget.first_estimate(20_000, by_run, 0.1, now)
    assert steps == int(342 / (0.1 * budget.FIRST_ESTIMATE_OVERHEAD))
    assert "fit 5.7 min of training: what --run-minutes 9.5 leaves" in why
    assert "(at most --train-minutes 8, --train-steps 20000)" in why
    by_minutes = budget.training_time(3.0, 9.5, STARTED, now)
    steps, why = budget.first_estimate(20_000, by_minutes, 0.1, now)
    assert steps == int(180 / (0.1 * budget.FIRST_ESTIMATE_OVERHEAD))
    assert "at 100 ms/step measured here fit --train-minutes 3 (at most --train-steps" in why
    assert budget.first_estimate(500, budget.TrainingTime(0.0), 0.1, now) == (500, "500 steps")


def test_the_demo_targets_the_run_and_a_named_training_time_replaces_the_target():
    demo = configs.get_config("demo").training
    assert demo.run_minutes == 9.5 and demo.train_minutes >= 6
    assert configs.get_config("demo", train_minutes=3.0).training.run_minutes == 0.0
    both = configs.get_config("demo", train_minutes=3.0, run_minutes=5.0).training
    assert (both.train_minutes, both.run_minutes) == (3.0, 5.0)
    with pytest.raises(configs.SettingError, match=r"--run-minutes must be in \[0.0, "):
        configs.get_config("demo", run_minutes=-1.0)


def test_fit_ends_at_a_deadline_before_its_steps(tmp_path, monkeypatch):
    # No least time, a deadline already reached: the first epoch's end cuts the horizon to it.
    monkeypatch.setattr(budget, "MIN_TRAINING_SECONDS", 0.0)
    config = configs.get_config(
        "test", train_steps=1000, checkpoint_every_steps=12, eval_steps=1
    ).with_dataset(OXFORD_PETS).trainer()  # fmt: skip
    model = build_training_model(config, tf.distribute.get_strategy(), "float32", False)
    batches = tf.data.Dataset.from_tensors(timing.random_batch(config)).repeat()
    limits = budget.TrainingTime(0.0, deadline=0.0)
    trainer.fit(
        model, batches, batches, config, str(tmp_path / "logs"), str(tmp_path / "b"), (), limits
    )
    assert int(model.optimizer.iterations.numpy()) == 12  # one epoch (MIN_STEPS is 10)
    assert int(budget.horizon_of(model).numpy()) == 12
