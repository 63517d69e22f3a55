"""The config in sections: presets, overrides, validation, and what each component receives."""

import json

import pytest

from components.example_gen.oxford import OXFORD_PETS
from core import config as configs


@pytest.mark.parametrize("preset", sorted(configs.PRESETS))
def test_every_preset_is_valid_and_survives_json(preset):
    config = configs.get_config(preset).with_dataset(OXFORD_PETS)
    assert configs.PipelineConfig.from_json(config.to_json()) == config
    geometry = config.transform
    assert geometry.output_size + 2 * geometry.margin == geometry.tile_size


@pytest.mark.parametrize("preset", sorted(configs.PRESETS))
def test_the_trainer_gets_its_sections_and_the_steps_from_tfx(preset):
    trainer = configs.get_config(preset).with_dataset(OXFORD_PETS).trainer()
    custom = trainer.to_custom_config()
    assert set(custom) == {"training", "transform", "serving", "dataset"}
    assert "train_steps" not in json.loads(custom["training"])  # TFX's TrainArgs carry them
    back = configs.TrainerConfig.from_custom_config(
        custom, trainer.training.train_steps, trainer.training.eval_steps
    )
    assert back == trainer


def test_paper_preset_is_the_paper():
    config = configs.get_config("paper")
    t = config.transform
    assert (t.tile_size, t.output_size, t.depth, config.training.base_filters) == (572, 388, 5, 64)
    training = config.training
    assert (training.optimizer, training.momentum, training.batch_size) == ("sgd", 0.99, 1)
    assert (training.border_w0, training.border_sigma_px, training.dropout_rate) == (10.0, 5.0, 0.5)


def test_overrides_apply_and_none_means_keep():
    config = configs.get_config("test", train_steps=7, batch_size=None)
    assert config.training.train_steps == 7
    assert config.training.batch_size == configs.PRESETS["test"]["batch_size"]
    assert config.with_overrides(depth=5, tile_size=188).transform.output_size == 4


def test_sections_change_only_what_they_hold():
    base = configs.get_config("test").with_dataset(OXFORD_PETS)
    changed = base.with_overrides(mean_iou_threshold=0.01, beam_args=("--direct_num_workers=2",))
    assert changed.trainer() == base.trainer()  # the Trainer's inputs are untouched
    assert changed.trainer().checkpoint_key() == base.trainer().checkpoint_key()
    assert changed.evaluation != base.evaluation and changed.run != base.run
    served = base.with_overrides(max_image_megapixels=5.0)
    assert served.trainer().checkpoint_key() == base.trainer().checkpoint_key()
    assert served.trainer().to_custom_config() != base.trainer().to_custom_config()
    longer = base.with_overrides(train_steps=999)
    assert longer.trainer().checkpoint_key() != base.trainer().checkpoint_key()


def test_every_setting_belongs_to_exactly_one_section():
    names = [n for cls in configs.SECTIONS.values() for n in cls.__dataclass_fields__]
    assert len(names) == len(set(names))
    assert set(configs.SECTION_OF) <= set(names)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"tile_size": 570, "depth": 5}, "Nearest valid tile sizes: 556 or 572"),
        ({"optimizer": "rmsprop"}, "--optimizer must be one of"),
        ({"precision": "fp8"}, "--precision must be one of"),
        ({"lr_schedule": "step"}, "--lr-schedule must be one of"),
        ({"eval_percent": 0}, r"--eval-percent must be in \[1, 49\], got 0"),
        ({"batch_size": 0}, r"--batch-size must be in \[1, 1024\], got 0"),
        ({"steps_per_execution": 0}, r"--steps-per-execution must be in \[1, "),
        ({"data_root": "/nonexistent/pets"}, "is not a directory"),
        ({"checkpoint_every_steps": -1}, r"--checkpoint-every-steps must be in \[1, "),
        ({"learning_rate": float("nan")}, r"--learning-rate must be in \[0.0, 10.0\], got nan"),
        ({"learning_rate": -0.1}, r"--learning-rate must be in \[0.0, 10.0\]"),
        ({"mean_iou_threshold": 1.5}, r"--mean-iou-threshold must be in \[0.0, 1.0\]"),
        ({"foreground_iou_threshold": -0.2}, r"--foreground-iou-threshold must be in"),
        ({"tile_size": 1_000_000}, r"--tile-size must be in \[1, 4096\]"),
        ({"depth": 40}, r"--depth must be in \[1, 10\], got 40"),
        ({"synthetic_num_images": 0}, r"--num-images must be in \[2, "),
        ({"batch_size": 2.5}, r"--batch-size must be a whole number"),
        ({"synthetic": "dogs"}, r"--synthetic must be one of"),
        ({"flip": "yes"}, r"--flip must be true or false"),
        ({"train_minutes": -1.0}, r"--train-minutes must be in \[0.0, "),
        ({"synthetic_test_percent": 95}, r"--test-percent must be in \[0, 90\], got 95"),
    ],
)
def test_invalid_values_fail_with_a_message(overrides, message):
    with pytest.raises(ValueError, match=message):
        configs.get_config("test", **overrides)


def test_unknown_preset_and_unknown_key_are_named():
    with pytest.raises(ValueError, match="--preset 'fast' is unknown"):
        configs.get_config("fast")
    with pytest.raises(ValueError, match="unknown config keys"):
        configs.get_config("test").with_overrides(tiles=5)


def test_the_data_set_must_be_settled_before_it_is_read():
    with pytest.raises(ValueError, match="not settled"):
        configs.get_config("test").trainer()


def test_cosine_schedule_decays_to_the_final_fraction_and_constant_stays():
    from models.training import model

    config = configs.get_config("test", lr_schedule="cosine", learning_rate=1e-3, train_steps=100)
    schedule = model.learning_rate(config.training)
    assert float(schedule(0)) == pytest.approx(1e-3)
    assert float(schedule(50)) == pytest.approx(1e-3 * (0.05 + 0.95 * 0.5), rel=1e-4)
    assert float(schedule(100)) == pytest.approx(1e-3 * config.training.lr_final_fraction)
    constant = config.with_overrides(lr_schedule="constant").training
    assert model.learning_rate(constant) == 1e-3
