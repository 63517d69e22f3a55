"""Every way a run ends, on one output directory, in order: each ending is one `petunet:` line
with its exit code and no traceback, and the next run on the same directory goes on from there,
until the last one blesses, pushes and serves a loadable model."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from core import errors
from pipeline import run_report
from pipeline.synthetic.pets import generate_synthetic_pets
from startup import cpu
from tests.e2e_runs import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(name="endings")]
# Long enough to interrupt; a checkpoint before the first progress line (at 10% of the steps).
LONG = ["--train-steps", "400", "--checkpoint-every-steps", "20"]


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    root = tmp_path_factory.mktemp("endings")
    good = generate_synthetic_pets(str(root / "pets"), 40, 0)
    broken = shutil.copytree(good, str(root / "broken"))
    with open(os.path.join(broken, "annotations", "test.txt")) as f:
        for line in f:
            with open(os.path.join(broken, "images", line.split()[0] + ".jpg"), "wb") as image:
                image.write(b"not a jpeg")
    place = {"out": str(root / "out"), "good": good, "broken": broken}
    yield place
    subprocess.run(["umount", os.path.join(place["out"], "serving_model")], capture_output=True)


def _command(place: dict[str, str], data: str, *args: str) -> list[str]:
    return [sys.executable, "local_runner.py", "--preset", "test", "--no-report",
            "--output-dir", place["out"], "--data-root", place[data], *args]  # fmt: skip


def _run(place, data: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        _command(place, data, *args), cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def _ends_in_one_line(result: subprocess.CompletedProcess, code: int, *words: str) -> str:
    assert result.returncode == code, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("petunet: ") and "(details: " in last, last
    for word in words:
        assert word in last, (word, last)
    log = last.rsplit("(details: ", 1)[1].rstrip(")")
    with open(log) as f:
        assert "Traceback" in f.read()  # the whole story is in the log
    return last


def _interrupt_while_training(place, sig: int) -> subprocess.CompletedProcess:
    process = subprocess.Popen(
        _command(place, "good", *LONG), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    lines = []
    started = time.time()
    for line in process.stderr:  # the console, line by line, until training is under way
        lines.append(line)
        if "petunet: training step" in line:
            break
        assert time.time() - started < 400, "training did not start"
    stopped = time.time()
    process.send_signal(sig)
    out, err = process.communicate(timeout=120)
    assert time.time() - stopped < 30  # within seconds (a test-preset step is milliseconds)
    return subprocess.CompletedProcess(process.args, process.returncode, out, "".join(lines) + err)


def test_1_a_split_with_no_usable_example_is_a_data_problem(place):
    result = _run(place, "broken")
    _ends_in_one_line(
        result, errors.EXIT_DATA, "SegmentationExampleGen", "no usable examples in split(s) test",
        "ingest_report.json",
    )  # fmt: skip


def test_2_ctrl_c_stops_training_within_seconds(place):
    result = _interrupt_while_training(place, signal.SIGINT)
    _ends_in_one_line(result, errors.EXIT_INTERRUPTED, "Trainer: interrupted")


def test_3_sigterm_stops_it_too_and_the_run_had_resumed(place):
    result = _interrupt_while_training(place, signal.SIGTERM)
    _ends_in_one_line(result, errors.EXIT_TERMINATED, "Trainer: terminated")
    assert "petunet: resuming training from the checkpoint in " in result.stderr


@pytest.mark.skipif(
    not cpu.cpu_flags() & set(cpu.BF16_CPU_FLAGS),
    reason="on a CPU without bfloat16 instructions TensorFlow runs mixed_bfloat16 on its own "
    "(slow) kernels instead of oneDNN's, so the step does not fail",
)
def test_4_a_precision_without_kernels_is_a_machine_problem(place):
    # On a CPU with AVX512-BF16, TensorFlow asks oneDNN for bfloat16 convolutions; limited to
    # AVX2, oneDNN has none and the step fails.
    result = _run(place, "good", *LONG, "--precision", "mixed_bfloat16",
                  env={"ONEDNN_MAX_CPU_ISA": "AVX2"})  # fmt: skip
    _ends_in_one_line(result, errors.EXIT_MACHINE, "no mixed_bfloat16 kernels", "--precision")


def test_5_a_batch_that_cannot_fit_is_refused_before_training(place):
    result = _run(place, "good", *LONG, "--batch-size", "1024", "--base-filters", "512")
    last = _ends_in_one_line(result, errors.EXIT_MACHINE, "needs about", "largest batch")
    assert "petunet: training step" not in result.stderr, last  # not one step was taken


def _mount_tmpfs(path: str, size: str) -> bool:
    os.makedirs(path, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                             capture_output=True)  # fmt: skip
    return mounted.returncode == 0


def test_6_a_full_disk_while_pushing_leaves_no_version_and_the_next_run_serves(place):
    serving = os.path.join(place["out"], "serving_model")
    if os.path.exists(serving) and os.listdir(serving):
        pytest.fail(f"nothing may have been pushed yet: {os.listdir(serving)}")
    if not _mount_tmpfs(serving, "64k"):  # unmounted when the module's tests are done
        pytest.skip("mounting a tmpfs needs root: the disk-full ending is not exercised here")
    full = _run(place, "good", *LONG)
    _ends_in_one_line(full, errors.EXIT_MACHINE, "Pusher: the disk is full", "--output-dir")
    assert os.listdir(serving) == []  # no half-copied version for TF Serving to load
    subprocess.run(["mount", "-o", "remount,size=200m", serving], check=True)
    result = _run(place, "good", *LONG)
    assert result.returncode == errors.EXIT_DONE, result.stderr[-3000:]
    summary = run_report.summarize(os.path.join(place["out"], "metadata.sqlite"), "petunet")
    assert summary["pushed"] and summary["states"]["Trainer"] == "CACHED"
    import tensorflow as tf

    assert tf.saved_model.load(summary["pushed_to"]).signatures  # TF Serving could load it


def test_7_after_all_that_a_run_on_the_same_output_dir_blesses_and_pushes(place):
    result = _run(place, "good", *LONG)
    assert result.returncode == errors.EXIT_DONE, result.stderr[-3000:]
    summary = run_report.summarize(os.path.join(place["out"], "metadata.sqlite"), "petunet")
    assert summary["blessed"] and (summary["pushed"] or summary["already_serving"])
    serving = os.path.join(place["out"], "serving_model")
    versions = [v for v in os.listdir(serving) if v.isdigit()]
    assert versions and not [v for v in os.listdir(serving) if not v.isdigit()]
