"""The single config: presets, overrides, validation and the JSON the Trainer receives."""

import pytest

from models import config as configs


@pytest.mark.parametrize("preset", sorted(configs.PRESETS))
def test_every_preset_is_valid_and_survives_the_trainer_json(preset):
    config = configs.get_config(preset)
    assert configs.PipelineConfig.from_json(config.to_json()) == config
    assert config.output_size + 2 * config.margin == config.tile_size


def test_paper_preset_is_the_paper():
    config = configs.get_config("paper")
    assert (config.tile_size, config.output_size, config.depth, config.base_filters) == (
        572,
        388,
        5,
        64,
    )
    assert (config.optimizer, config.momentum, config.batch_size) == ("sgd", 0.99, 1)
    assert (config.border_w0, config.border_sigma_px, config.dropout_rate) == (10.0, 5.0, 0.5)


def test_overrides_apply_and_none_means_keep():
    config = configs.get_config("test", train_steps=7, batch_size=None)
    assert config.train_steps == 7
    assert config.batch_size == configs.PRESETS["test"]["batch_size"]
    assert config.with_overrides(depth=5, tile_size=188).output_size == 4


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"tile_size": 570, "depth": 5}, "Nearest valid tile sizes: 556 or 572"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of"),
        ({"precision": "fp8"}, "precision must be one of"),
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
    ],
)
def test_invalid_values_fail_with_a_message(overrides, message):
    with pytest.raises(ValueError, match=message):
        configs.get_config("test", **overrides)


def test_unknown_preset_and_unknown_key_are_named():
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        configs.get_config("fast")
    with pytest.raises(ValueError, match="unknown config keys"):
        configs.get_config("test").with_overrides(tiles=5)


def test_cosine_schedule_decays_to_the_final_fraction_and_constant_stays():
    from models.training import model

    config = configs.get_config("test", lr_schedule="cosine", learning_rate=1e-3, train_steps=100)
    schedule = model.learning_rate(config)
    assert float(schedule(0)) == pytest.approx(1e-3)
    assert float(schedule(50)) == pytest.approx(1e-3 * (0.05 + 0.95 * 0.5), rel=1e-4)
    assert float(schedule(100)) == pytest.approx(1e-3 * config.lr_final_fraction)
    assert model.learning_rate(config.with_overrides(lr_schedule="constant")) == 1e-3
