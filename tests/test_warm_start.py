"""A refused warm start names each setting that differs, with both values and what sets it."""

from __future__ import annotations

import json
import os

import pytest

from components.example_gen.oxford import OXFORD_PETS
from core import config as configs
from core.settings import SettingError
from models.network.unet import build_unet
from models.serving.export import NETWORK_ASSET, network_description
from models.training import warm_start


def _blessed(tmp_path, **network) -> str:
    """A base model folder holding what a warm start reads first: its network.json."""
    model = build_unet(num_classes=3, **{"tile_size": 92, "depth": 3, "base_filters": 8, **network})
    base = tmp_path / "blessed"
    (base / "assets.extra").mkdir(parents=True)
    (base / "saved_model.pb").write_bytes(b"")
    description = network_description(model, network.get("tile_size", 92), OXFORD_PETS)
    (base / NETWORK_ASSET).write_text(json.dumps(description))
    return str(base)


def _begin(base: str, **settings):
    config = configs.get_config("test", warm_start=True, **settings).with_dataset(OXFORD_PETS)
    trainer = config.trainer()
    t = trainer.transform
    model = build_unet(tile_size=t.tile_size, depth=t.depth, num_classes=3,
                       base_filters=trainer.training.base_filters)  # fmt: skip
    return warm_start.begin(model, trainer, base)


def test_a_filters_mismatch_names_the_filters_both_values_and_the_flag(tmp_path):
    with pytest.raises(SettingError) as refused:
        _begin(_blessed(tmp_path, base_filters=8), base_filters=4)
    message = str(refused.value)
    assert "base filters 8 in the blessed model, 4 here (--base-filters)" in message
    assert "tile" not in message and "classes" not in message  # what matches is not named


def test_every_setting_that_differs_is_named(tmp_path):
    with pytest.raises(SettingError) as refused:
        _begin(_blessed(tmp_path, base_filters=8, depth=3), base_filters=4, depth=2,
               tile_size=76)  # fmt: skip
    message = str(refused.value)
    assert "depth 3 in the blessed model, 2 here (--depth)" in message
    assert "base filters 8 in the blessed model, 4 here (--base-filters)" in message
    assert "tile size 92 in the blessed model, 76 here (--tile-size)" in message


def test_an_empty_baseline_folder_means_no_blessed_model_yet(tmp_path):
    empty = tmp_path / "nothing-served"
    empty.mkdir()
    assert _begin(str(empty)) is None
    assert not os.listdir(empty)
