"""The Pusher's executor: TFX's filesystem push made atomic, and idempotent for the same model.

TFX's Pusher copies straight into `<base>/<version>/`, so a push killed midway leaves a version
directory that TF Serving tries to load, and a rerun whose Trainer and Evaluator were served from
the cache (the same model, blessed again against itself) pushes a second copy. Here the model is
copied into `<base>/.partial-<version>/` and renamed into place (a rename is atomic on one file
system, so TF Serving sees all of a version or none of it); a model identical to the newest
pushed version (same files, same bytes) is not pushed again; and partial copies that killed runs
left behind are removed.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from absl import logging
from tfx import types
from tfx.components.pusher import executor as tfx_pusher
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from core import node_ids, run_paths

PARTIAL_PREFIX = ".partial-"
ALREADY_SERVING_KEY = "already_serving"  # custom property: the version dir that holds this model


def model_fingerprint(model_dir: str) -> str:
    """sha256 over every file of a SavedModel directory (relative path and bytes)."""
    digest = hashlib.sha256()
    for root, _, names in sorted(fileio.walk(model_dir)):
        for name in sorted(names):
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, model_dir).encode())
            with fileio.open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def versions(base: str) -> list[str]:
    """The complete version directories under `base`, oldest first."""
    if not fileio.exists(base):
        return []
    names = [n.rstrip("/") for n in fileio.listdir(base)]
    return sorted((n for n in names if n.isdigit()), key=int)


def remove_partial_pushes(base: str) -> list[str]:
    """Deletes the `.partial-*` copies of pushes that never completed; returns their paths."""
    if not fileio.exists(base):
        return []
    removed = []
    for name in fileio.listdir(base):
        if name.rstrip("/").startswith(PARTIAL_PREFIX):
            path = os.path.join(base, name.rstrip("/"))
            fileio.rmtree(path)
            removed.append(path)
    return removed


def push_atomically(model_path: str, base: str) -> tuple[str, str, bool]:
    """(version, destination, pushed): copies and renames, or finds the same model serving."""
    fileio.makedirs(base)
    removed = remove_partial_pushes(base)
    if removed:
        logging.info("Pusher: removed unfinished pushes %s", removed)
    existing = versions(base)
    if existing:
        newest = os.path.join(base, existing[-1])
        if model_fingerprint(newest) == model_fingerprint(model_path):
            logging.info("Pusher: this model already serves as %s; nothing pushed", newest)
            return existing[-1], newest, False
    version = str(max(int(time.time()), int(existing[-1]) + 1 if existing else 0))
    partial = os.path.join(base, PARTIAL_PREFIX + version)
    try:
        io_utils.copy_dir(model_path, partial)
    except BaseException:  # a full disk, an interrupt: no half copy stays behind
        if fileio.exists(partial):
            fileio.rmtree(partial)
        raise
    destination = os.path.join(base, version)
    fileio.rename(partial, destination)
    logging.info("Pusher: model written to %s", destination)
    return version, destination, True


class Executor(tfx_pusher.Executor):
    """Pushes a blessed model atomically to a filesystem destination (see the module docstring)."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination
        )
        if destination.WhichOneof("destination") != "filesystem":
            raise NotImplementedError("petunet's Pusher pushes to a filesystem destination only")
        base = run_paths.resolve(  # Kubeflow: relative to this run's pipeline root
            destination.filesystem.base_directory, model_push.uri, node_ids.PUSHER
        )
        version, path, pushed = push_atomically(self.GetModelPath(input_dict), base)
        if pushed:
            self._MarkPushed(model_push, pushed_destination=path, pushed_version=version)
        else:
            self._MarkNotPushed(model_push)
            model_push.set_string_custom_property(ALREADY_SERVING_KEY, path)
