"""A key for what a component's output holds: its inputs' keys, its settings and its code.

TFX's cache compares artifact ids, so a re-run with the cache off remakes the same examples under
new ids and paths. The Trainer keys its checkpoint on what its examples hold instead: the
ExampleGen keys its output on the data files' fingerprint and its settings, Transform folds in its
own settings, and writes the result beside the examples it materializes
(core.contracts.CONTENT_KEY_FILE), where the Trainer reads it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import tensorflow as tf
from tfx import types

CONTENT_KEY = "content_key"  # custom property of the examples artifacts
# exec properties that say where or how a component runs, not what it makes
NOT_CONTENT = ("input_base", "beam_pipeline_args")


def content_key(parents: Iterable[str], exec_properties: Mapping[str, Any]) -> str:
    settings = {
        k: v for k, v in exec_properties.items() if k not in NOT_CONTENT and not k.startswith("_")
    }
    text = "|".join([*parents, json.dumps(settings, sort_keys=True, default=str)])
    return hashlib.sha256(text.encode()).hexdigest()


def key_of(artifact: types.Artifact) -> str:
    """The artifact's content key, or its URI where it has none (examples made elsewhere)."""
    if artifact.has_custom_property(CONTENT_KEY):
        return artifact.get_string_custom_property(CONTENT_KEY)
    return artifact.uri


def mark(artifact: types.Artifact, key: str, file_name: str | None = None) -> None:
    """Records `key` on the artifact, and in `file_name` at its root for readers without
    ML Metadata."""
    artifact.set_string_custom_property(CONTENT_KEY, key)
    if file_name:
        with tf.io.gfile.GFile(os.path.join(artifact.uri, file_name), "w") as f:
            f.write(key)
