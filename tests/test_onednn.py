"""oneDNN's kernels on every x86-64 CPU: asked for before TensorFlow loads, a user's choice kept."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from startup import cpu

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("machine", ["x86_64", "AMD64"])
def test_x86_64_asks_for_onednn(machine):
    environ: dict[str, str] = {}
    assert cpu.use_onednn_everywhere(environ, machine) is True
    assert environ == {"TF_ENABLE_ONEDNN_OPTS": "1"}


@pytest.mark.parametrize("choice", ["0", "1", "false"])
def test_a_users_choice_is_kept(choice):
    environ = {"TF_ENABLE_ONEDNN_OPTS": choice}
    assert cpu.use_onednn_everywhere(environ, "x86_64") is False
    assert environ == {"TF_ENABLE_ONEDNN_OPTS": choice}


def test_other_machines_keep_tensorflows_own_choice():
    environ: dict[str, str] = {}
    assert cpu.use_onednn_everywhere(environ, "aarch64") is False
    assert environ == {}


def _onednn_in_tensorflow(environ: dict[str, str]) -> str:
    """TensorFlow's oneDNN switch after the start-up, and what the Trainer's plan says of it."""
    script = (
        "import startup\n"
        "startup.start()\n"
        "from tensorflow.python.util import _pywrap_util_port\n"
        "from models.training.execution import onednn_kernels\n"
        "print('ONEDNN', _pywrap_util_port.IsMklEnabled(), onednn_kernels())\n"
    )
    env = {**environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split("ONEDNN", 1)[1].strip()


@pytest.mark.skipif(platform.machine() != "x86_64", reason="oneDNN is asked for on x86-64 only")
def test_tensorflow_runs_onednn_after_the_start_up_whatever_the_cpu():
    """TensorFlow's own default is off on CPUs without AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX
    (such as this project's AVX2-only CI machines) and on with them: on after `startup.start()`
    on both, off where the user said 0."""
    environ = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    assert _onednn_in_tensorflow(environ) == "True oneDNN kernels"
    off = _onednn_in_tensorflow({**environ, "TF_ENABLE_ONEDNN_OPTS": "0"})
    assert off.startswith("False Eigen kernels (TF_ENABLE_ONEDNN_OPTS=1")
