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

from models.config import TrainerConfig
from models.settings import SettingError


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
        differ = sorted(k for k in wanted if found.get(k) != wanted[k])
        raise SettingError(
            "--warm-start",
            f"the blessed model {base_model} is another network ({', '.join(differ)} differ: "
            f"tile {found.get('tile_size')}, classes {found.get('classes')}); train it from "
            "scratch without --warm-start, or with the settings it was trained with",
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
