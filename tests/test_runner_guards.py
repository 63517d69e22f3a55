"""The runner's guards: one run per output directory, and every bad setting or data folder ends
the run at once, in one `petunet:` line with exit code 2, before any component runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline import workspace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _runner(*args: str, timeout: int = 120) -> tuple[subprocess.CompletedProcess, float]:
    started = time.time()
    result = subprocess.run(
        [sys.executable, "local_runner.py", "--preset", "test", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result, time.time() - started


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--checkpoint-every-steps", "-1"], "--checkpoint-every-steps must be in [1, "),
        (["--depth", "40"], "--depth must be in [1, 10], got 40"),
        (["--depth", "20"], "--depth must be in [1, 10], got 20"),
        (["--num-images", "0"], "--num-images must be in [2, "),
        (["--learning-rate", "nan"], "--learning-rate must be in [0.0, 10.0], got nan"),
        (["--learning-rate", "-1"], "--learning-rate must be in [0.0, 10.0], got -1.0"),
        (["--mean-iou-threshold", "1.5"], "--mean-iou-threshold must be in [0.0, 1.0]"),
        (["--pet-iou-threshold", "-0.5"], "--foreground-iou-threshold must be in [0.0, 1.0]"),
        (["--tile-size", "1000000"], "--tile-size must be in [1, 4096], got 1000000"),
        (["--max-file-mb", "0"], "--max-file-mb must be in (0.0, "),
    ],
)
def test_each_absurd_setting_ends_the_run_in_one_line(tmp_path, flags, message):
    result, seconds = _runner("--output-dir", str(tmp_path / "out"), *flags)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("petunet: ") and message in lines[0]
    assert seconds < 30
    assert not (tmp_path / "out").exists()


def test_a_wrong_data_folder_ends_the_run_in_one_line(tmp_path):
    (tmp_path / "photos").mkdir()
    result, _ = _runner(
        "--output-dir", str(tmp_path / "out"), "--data-root", str(tmp_path / "photos")
    )
    assert result.returncode == 1  # the data stopped the run (README's exit codes)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "holds neither a dataset.json" in lines[0]
    assert not (tmp_path / "out" / "metadata.sqlite").exists()


def test_a_second_run_on_a_held_output_dir_names_the_holder_and_stops_at_once(tmp_path):
    out = tmp_path / "out"
    with workspace.RunLock(str(out)):
        result, seconds = _runner("--output-dir", str(out))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and f"pid {os.getpid()}" in lines[0] and "in use by another run" in lines[0]
    )
    assert seconds < 60
    assert not (out / "metadata.sqlite").exists()


def test_the_lock_is_released_on_any_exit_even_a_kill(tmp_path):
    out = str(tmp_path / "out")
    script = (
        "import sys, time\nfrom pipeline import workspace\n"
        "with workspace.RunLock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, out], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(workspace.OutputDirBusy, match=f"pid {holder.pid}"):
        with workspace.RunLock(out):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with workspace.RunLock(out):  # free again
        pass
    with workspace.RunLock(out):  # and after a normal exit too
        pass


def test_leftovers_of_killed_runs_are_removed_but_a_resumable_checkpoint_is_kept(tmp_path):
    from core import config as configs

    config = configs.get_config("test", output_dir=str(tmp_path))
    os.makedirs(os.path.join(config.run.serving_model_dir, ".partial-123", "variables"))
    os.makedirs(os.path.join(config.run.serving_model_dir, "100"))
    os.makedirs(os.path.join(config.run.trainer_backup_dir, "empty_run", "chief"))
    kept = os.path.join(config.run.trainer_backup_dir, "resumable")
    os.makedirs(kept)
    open(os.path.join(kept, "checkpoint"), "w").close()
    removed = workspace.remove_leftovers(config)
    assert os.listdir(config.run.serving_model_dir) == ["100"]
    assert os.listdir(config.run.trainer_backup_dir) == ["resumable"]
    assert any(".partial-123" in path for path in removed)
