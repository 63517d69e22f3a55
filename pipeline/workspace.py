"""A run's output directory: one run at a time, and nothing left behind by runs that were killed.

Two runs on one output directory used to run side by side: they trained from the same checkpoint
directory, and each read the other's results as its own. `RunLock` holds an exclusive lock on
`<output-dir>/.petunet.lock` for the whole run (released on any exit, a kill included, since the
kernel drops it with the process); a second run names the holder and stops at once.
`remove_leftovers` then deletes what killed runs left: unfinished pushes, the outputs of executions
that never completed, and empty checkpoint directories (a non-empty one is kept: it is what lets
an interrupted Trainer resume).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from typing import IO

from core import errors
from core.config import PipelineConfig

LOCK_FILE = ".petunet.lock"


class OutputDirBusy(errors.SettingProblem):
    """Another run holds the output directory."""


class RunLock:
    """Exclusive use of an output directory for the length of a `with` block."""

    def __init__(self, output_dir: str) -> None:
        self.path = os.path.join(output_dir, LOCK_FILE)
        self._file: IO[str] | None = None

    def __enter__(self) -> RunLock:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        handle = open(self.path, "a+")  # held until __exit__
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise OutputDirBusy(
                f"{os.path.dirname(self.path)} is in use by another run ({holder}); wait for "
                "it to end or choose another --output-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None:
            self._file.truncate(0)
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def write_atomically(path: str, text: str) -> None:
    """Writes `path` whole or not at all: a run killed midway leaves the old file, not half."""
    partial = f"{path}.partial-{os.getpid()}"
    with open(partial, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(partial, path)


def _unfinished_outputs(metadata_path: str) -> list[str]:
    """Output folders of executions that never completed (the run holding the lock is the only
    live one, so a RUNNING execution is one whose process was killed)."""
    if not os.path.exists(metadata_path):
        return []
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(connection)
    state = metadata_store_pb2.Execution
    done = {state.COMPLETE, state.CACHED}
    unfinished = [e.id for e in store.get_executions() if e.last_known_state not in done]
    if not unfinished:
        return []
    outputs = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.PENDING_OUTPUT)
    events = store.get_events_by_execution_ids(unfinished)
    ids = [e.artifact_id for e in events if e.type in outputs]
    finished_ids = {
        e.artifact_id
        for e in store.get_events_by_artifact_ids(ids)
        if e.type == metadata_store_pb2.Event.OUTPUT and e.execution_id not in unfinished
    }
    return [a.uri for a in store.get_artifacts_by_id(ids) if a.id not in finished_ids]


def _remove_empty_dirs(root: str) -> list[str]:
    removed = []
    for path, _, files in os.walk(root, topdown=False):
        if path != root and not files and not os.listdir(path):
            os.rmdir(path)
            removed.append(path)
    return removed


def remove_leftovers(config: PipelineConfig) -> list[str]:
    """Deletes what killed runs left in the output directory; returns what was removed."""
    from components.pusher.executor import remove_partial_pushes  # TFX: only once it is needed

    removed = remove_partial_pushes(config.run.serving_model_dir)
    for uri in _unfinished_outputs(config.run.metadata_path):
        if os.path.isdir(uri):
            shutil.rmtree(uri)
        elif os.path.exists(uri):
            os.remove(uri)
        else:
            continue
        removed.append(uri)
    if os.path.isdir(config.run.trainer_backup_dir):  # a finished training leaves its folder
        _remove_empty_dirs(config.run.trainer_backup_dir)
    return removed
