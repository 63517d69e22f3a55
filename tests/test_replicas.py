"""Training beyond one device, proven on CPU stand-ins: logical CPU devices for GPUs, loopback
worker processes for a cluster. The same global batch gives the same losses on 1 replica, 2
replicas and 2 workers; a killed run resumes from its checkpoint; the GPU precision (float16 with
loss scaling) and XLA train; the choices for a machine with GPUs, from a faked device list; the
workers keep the chief's step count."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from models.training import cluster, execution

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 5


def _harness(out: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.replica_losses", "--out", out, "--steps", str(STEPS), *args],
        cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _losses(out: str, *args: str) -> dict:
    process = _harness(out, *args)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    with open(os.path.join(out, "losses-0.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def one_replica(tmp_path_factory) -> dict:
    return _losses(str(tmp_path_factory.mktemp("one")), "--devices", "0", "--batch-size", "4")


def test_two_replicas_of_batch_2_train_like_one_of_batch_4(one_replica, tmp_path):
    two = _losses(str(tmp_path), "--devices", "2", "--batch-size", "4")
    assert (one_replica["replicas"], two["replicas"]) == (1, 2)
    assert one_replica["agreed_steps"] == two["agreed_steps"] == 100  # not 100 per replica
    assert len(two["losses"]) == STEPS
    np.testing.assert_allclose(two["losses"], one_replica["losses"], rtol=2e-4)
    assert one_replica["losses"][-1] < one_replica["losses"][0]  # it does learn


def test_two_workers_train_like_one_with_the_same_global_batch(one_replica, tmp_path):
    ports = cluster._free_ports(2)
    workers = [
        _harness(str(tmp_path), "--batch-size", "4", env={"TF_CONFIG": cluster.tf_config(ports, i)})
        for i in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-3000:]
    results = [json.load(open(tmp_path / f"losses-{i}.json")) for i in range(2)]
    assert [r["chief"] for r in results] == [True, False]
    assert all(r["workers"] == 2 and r["replicas"] == 2 for r in results)
    # worker 1 proposed 101 steps: a time budget's horizons differ, the chief's is kept
    assert [r["agreed_steps"] for r in results] == [100, 100]
    np.testing.assert_allclose(results[0]["losses"], one_replica["losses"], rtol=2e-4)


def test_a_killed_two_replica_run_resumes_from_its_checkpoint(one_replica, tmp_path):
    backup = str(tmp_path / "backup")
    process = _harness(str(tmp_path), "--devices", "2", "--backup", backup, "--die-at-step", "3")
    process.communicate(timeout=600)
    assert process.returncode == 1  # killed after step 3
    resumed = _losses(str(tmp_path), "--devices", "2", "--backup", backup)
    assert resumed["steps"] == STEPS
    done = STEPS - len(resumed["losses"])
    assert done >= 2  # it started where the checkpoint was, not at step 0
    np.testing.assert_allclose(resumed["losses"], one_replica["losses"][done:], rtol=2e-4)


def test_a_restarted_cluster_resumes_after_a_worker_was_killed(one_replica, tmp_path):
    """What models/training/cluster.py does when a worker dies: stop the others, start all again;
    every worker restores the shared checkpoint."""
    backup = str(tmp_path / "backup")
    ports = cluster._free_ports(2)

    def start(die: bool) -> list[subprocess.Popen]:
        return [
            _harness(str(tmp_path), "--batch-size", "4", "--backup", backup,
                     *(["--die-at-step", "3"] if die and i == 1 else []),
                     env={"TF_CONFIG": cluster.tf_config(ports, i)})
            for i in range(2)
        ]  # fmt: skip

    first = start(die=True)
    failed = cluster._wait(first)  # the chief would wait on the dead worker: it is stopped
    assert failed == 1
    ports = cluster._free_ports(2)
    second = start(die=False)
    assert cluster._wait(second) is None
    resumed = json.load(open(tmp_path / "losses-0.json"))
    done = STEPS - len(resumed["losses"])
    assert resumed["steps"] == STEPS and done >= 2
    np.testing.assert_allclose(resumed["losses"], one_replica["losses"][done:], rtol=2e-4)


@pytest.mark.parametrize("precision,jit", [("mixed_float16", "off"), ("float32", "on")])
def test_the_gpu_precision_and_xla_train_on_cpu(precision, jit, tmp_path):
    result = _losses(str(tmp_path), "--precision", precision, "--jit", jit)
    assert len(result["losses"]) == STEPS and all(np.isfinite(result["losses"]))
    assert result["losses"][-1] < result["losses"][0]
    if precision == "mixed_float16":
        assert result["loss_scale"].startswith("LossScaleOptimizer")


class _FakeGpu:
    def __init__(self, name: str) -> None:
        self.name = name
        self.device_type = "GPU"


@pytest.mark.parametrize(
    "capability,policy",
    [((9, 0), "mixed_bfloat16"), ((8, 0), "mixed_bfloat16"), ((7, 5), "mixed_float16"),
     ((6, 1), "float32")],
)  # fmt: skip
def test_the_choices_for_a_machine_with_gpus(monkeypatch, capability, policy):
    gpus = [_FakeGpu("/physical_device:GPU:0"), _FakeGpu("/physical_device:GPU:1")]
    monkeypatch.setattr(execution, "_gpu_compute_capability", lambda gpu: capability)
    assert execution.choose_precision("auto", gpus, set())[0] == policy
    assert execution.choose_jit("auto", gpus)[0] is True
    assert execution.strategy_devices(0, gpus) == ["/gpu:0", "/gpu:1"]
    assert execution.strategy_devices(1, gpus) == ["/gpu:0"]
    with pytest.raises(ValueError, match="--train-devices 3: this machine has 2 GPU"):
        execution.strategy_devices(3, gpus)
