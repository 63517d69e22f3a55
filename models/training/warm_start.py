"""A warm start: the training model begins from the weights of the latest blessed model.

The base model is the one the Evaluator compares against (TFX's `base_model`, from the same
resolver as the baseline). Its `assets.extra/network.json` says which network it is; a base with
another tile, depth, width or classes is refused in one line before any training, since its
weights would not fit (or would fit and mean something else).
"""

from __future__ import annotations

import json
import logging
import os

import tensorflow as tf

from core.config import TrainerConfig
from core.settings import SettingError

# What sets each part of the network, for a refusal that says what to change.
SETTING_SOURCES = {
    "tile_size": "--tile-size",
    "depth": "--depth",
    "base_filters": "--base-filters",
    "classes": "the data set's labels",
    "channels": "the data set's channels",
}


def network_settings(description: dict) -> dict:
    """tile, depth, filters, classes and channels of a network.json; depth and filters read from
    the weights' names and shapes (`down{level}_conv1/kernel`, the first level's filters)."""
    weights = description.get("weights", {})
    levels = {name.split("_")[0] for name in weights if name.startswith("down")}
    first = weights.get("down0_conv1/kernel:0") or weights.get("down0_conv1/kernel")
    return {
        "tile_size": description.get("tile_size"),
        "depth": len(levels) + 1 if weights else None,
        "base_filters": first[-1] if first else None,
        "classes": description.get("classes"),
        "channels": description.get("channels"),
    }


def differences(found: dict, wanted: dict) -> list[str]:
    """One phrase per setting that differs: both values and what sets it; when only the layers
    differ, that."""
    phrases = [
        f"{key.replace('_', ' ')} {found[key]} in the blessed model, {wanted[key]} here "
        f"({SETTING_SOURCES[key]})"
        for key in SETTING_SOURCES
        if found[key] != wanted[key]
    ]
    return phrases or ["the same settings, other layer shapes: the network's code changed"]


def begin(model: tf.keras.Model, config: TrainerConfig, base_model: str | None) -> str | None:
    """Loads the base model's weights into `model` when a warm start is asked for and there is a
    base; returns the base's path (None: from scratch)."""
    if not config.training.warm_start:
        return None
    if not base_model or not tf.io.gfile.exists(os.path.join(base_model, "saved_model.pb")):
        logging.info("petunet: --warm-start: no blessed model yet, training from scratch")
        return None
    from models.serving.export import NETWORK_ASSET, layer_weights, network_description

    with tf.io.gfile.GFile(os.path.join(base_model, NETWORK_ASSET)) as f:
        found = json.load(f)
    wanted = network_description(model, config.tile_size, config.dataset)
    if found != wanted:
        differ = differences(network_settings(found), network_settings(wanted))
        raise SettingError(
            "--warm-start",
            f"the blessed model {base_model} is another network ({'; '.join(differ)}); train it "
            "from scratch without --warm-start, or with the settings it was trained with",
        )
    loaded = tf.saved_model.load(base_model)
    saved = getattr(loaded, "network_weights", None)  # models exported before: the whole model
    saved = list(saved) if saved is not None else loaded.model.variables
    source = {v.name: v for v in saved}
    target = {w.name: w for w in layer_weights(model)}
    missing = sorted(set(target) - set(source))
    if missing:
        raise SettingError("--warm-start", f"the blessed model lacks weights {missing[:3]}")
    for name, variable in target.items():
        variable.assign(tf.cast(source[name], variable.dtype))
    logging.info("petunet: warm start from the blessed model %s", base_model)
    return base_model
