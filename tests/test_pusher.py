"""The push lands atomically, a push killed midway leaves nothing TF Serving would load, and the
model already serving is not pushed again."""

from __future__ import annotations

import os

import pytest

from components.pusher import executor


def _model(path, content: bytes = b"graph") -> str:
    os.makedirs(os.path.join(path, "variables"), exist_ok=True)
    with open(os.path.join(path, "saved_model.pb"), "wb") as f:
        f.write(content)
    with open(os.path.join(path, "variables", "variables.index"), "wb") as f:
        f.write(b"index")
    return str(path)


def test_a_push_lands_whole_and_the_same_model_is_not_pushed_twice(tmp_path):
    base = str(tmp_path / "serving")
    model = _model(tmp_path / "model")
    version, path, pushed = executor.push_atomically(model, base)
    assert pushed and os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert os.listdir(base) == [version]
    again = executor.push_atomically(_model(tmp_path / "copy"), base)  # same bytes elsewhere
    assert again == (version, path, False) and os.listdir(base) == [version]
    newer = executor.push_atomically(_model(tmp_path / "new", b"other"), base)
    assert newer[2] and int(newer[0]) > int(version)
    assert executor.versions(base) == [version, newer[0]]


def test_a_push_interrupted_midway_leaves_no_version_and_no_partial_copy(tmp_path, monkeypatch):
    base = str(tmp_path / "serving")
    model = _model(tmp_path / "model")

    def copy_then_die(source, destination):
        os.makedirs(os.path.join(destination, "variables"))  # a partial copy, no saved_model.pb
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(executor.io_utils, "copy_dir", copy_then_die)
    with pytest.raises(KeyboardInterrupt):
        executor.push_atomically(model, base)
    assert os.listdir(base) == []  # TF Serving sees no version, and nothing is left behind
    monkeypatch.undo()
    version, _, pushed = executor.push_atomically(model, base)
    assert pushed and os.listdir(base) == [version]


def test_the_partial_copy_of_a_hard_killed_push_is_removed_by_the_next(tmp_path):
    base = tmp_path / "serving"
    partial = base / f"{executor.PARTIAL_PREFIX}1700000000" / "variables"
    partial.mkdir(parents=True)  # what SIGKILL leaves: no handler ran
    assert executor.versions(str(base)) == []  # not a version TF Serving would load
    version, _, pushed = executor.push_atomically(_model(tmp_path / "model"), str(base))
    assert pushed and os.listdir(base) == [version]
