"""Steps per execution: several train steps per compiled call, the same number of steps in all."""

from __future__ import annotations

import gc

import tensorflow as tf

from components.example_gen.oxford import OXFORD_PETS
from core import config as configs
from models.training import timing, trainer
from models.training.model import build_training_model


def _trainer_config(**overrides) -> configs.TrainerConfig:
    return configs.get_config("test", **overrides).with_dataset(OXFORD_PETS).trainer()


def _fit(config: configs.TrainerConfig, tmp_path):
    """The Trainer's fit on one random batch, repeated; returns the model and its history."""
    model = build_training_model(config, tf.distribute.get_strategy(), "float32", False)
    batches = tf.data.Dataset.from_tensors(timing.random_batch(config)).repeat()
    history = trainer.fit(
        model, batches, batches, config, str(tmp_path / "logs"), str(tmp_path / "backup")
    )
    return model, history


def test_fit_runs_exactly_train_steps_when_calls_hold_several_steps(tmp_path):
    # 10 steps in epochs of 5, 4 steps per call: each epoch ends on a short call (4 + 1).
    config = _trainer_config(
        train_steps=10, checkpoint_every_steps=5, steps_per_execution=4, eval_steps=1
    )
    model, history = _fit(config, tmp_path)
    assert int(model.optimizer.iterations.numpy()) == 10
    assert len(history.history["loss"]) == 2
    assert (tmp_path / "logs" / trainer.TRAINING_LOG).exists()


def test_fit_stops_at_train_steps_that_are_not_a_multiple_of_the_epoch(tmp_path):
    # 7 steps in epochs of 5: one whole epoch and one cut short, both validated.
    config = _trainer_config(train_steps=7, checkpoint_every_steps=5, eval_steps=1)
    model, history = _fit(config, tmp_path)
    assert int(model.optimizer.iterations.numpy()) == 7
    assert len(history.history["val_loss"]) == 2


def test_step_timing_counts_every_step_of_a_call():
    config = _trainer_config(steps_per_execution=3)
    model = build_training_model(config, tf.distribute.get_strategy(), "float32", False)
    before = int(model.optimizer.iterations.numpy())
    seconds = timing.seconds_per_step(model, config, steps=4, repeats=1)
    # one warm-up call and ceil(4 / 3) = 2 timed calls of 3 steps each
    assert int(model.optimizer.iterations.numpy()) - before == 9
    assert 0 < seconds < 10


def test_fit_leaves_no_dataset_iterator_alive(tmp_path):
    # An iterator left for a later collection makes whatever runs then wait for its threads.
    from tensorflow.python.data.ops import iterator_ops

    config = _trainer_config(train_steps=4, checkpoint_every_steps=2, eval_steps=1)
    _fit(config, tmp_path)
    alive = [o for o in gc.get_objects() if isinstance(o, iterator_ops.OwnedIterator)]
    assert alive == []
