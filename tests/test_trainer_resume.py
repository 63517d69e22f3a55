"""A killed Trainer resumes from its last checkpoint when the pipeline runs again."""

from __future__ import annotations

import csv
import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline import run_report
from tests.e2e_runs import ROOT, run_pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(name="resume")]

# 12 epochs of 50 steps: long enough to be killed after the first checkpoint, short to resume.
STEPS = ["--train-steps", "600", "--checkpoint-every-steps", "50"]


def _checkpoint_written(backup_root: str) -> bool:
    return bool(glob.glob(os.path.join(backup_root, "*", "**", "checkpoint"), recursive=True))


def test_killed_trainer_resumes_from_its_checkpoint(tmp_path):
    output_dir = str(tmp_path)
    backup_root = os.path.join(output_dir, "trainer_backup")
    command = [sys.executable, "local_runner.py", "--preset", "test", "--output-dir", output_dir,
               "--no-report"]  # fmt: skip
    process = subprocess.Popen(
        [*command, *STEPS],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 400
    try:
        while not _checkpoint_written(backup_root):
            assert process.poll() is None, "the pipeline ended before the first checkpoint"
            assert time.time() < deadline, "no checkpoint within the time limit"
            time.sleep(0.5)
        time.sleep(1.0)  # let the checkpoint files land completely
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    # The same training on the same data, so the same checkpoint: the second run starts at the
    # saved epoch, not at zero, even with the cache off (new examples, the same content).
    result = run_pipeline(output_dir, *STEPS, "--no-cache")
    nodes = run_report.last_run(os.path.join(output_dir, "metadata.sqlite"), "petunet")
    assert nodes["Transform"].state == "COMPLETE"
    assert nodes["Trainer"].state == "COMPLETE"
    assert "petunet: resuming training from the checkpoint in " in result.stderr
    log_path = os.path.join(nodes["Trainer"].artifact("model_run").uri, "training_log.csv")
    with open(log_path) as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs, "the resumed run trained no epoch"
    assert epochs[0] >= 1, f"training restarted from zero: epochs {epochs}"
    assert not os.listdir(backup_root) or not _checkpoint_written(backup_root)
