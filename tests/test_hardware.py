"""Precision and XLA choices: honoured when set, measured where the hardware does not decide."""

import os
import subprocess
import sys

import tensorflow as tf

from models.training import execution as hardware

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_explicit_precision_is_honoured_and_not_probed():
    def probe(policy):
        raise AssertionError("an explicit precision must not be probed")

    assert hardware.choose_precision("float32", [], {"avx512_bf16"}, probe)[0] == "float32"
    assert hardware.choose_precision("mixed_float16", [], set(), probe)[0] == "mixed_float16"


def test_cpu_without_bfloat16_trains_in_float32():
    assert hardware.choose_precision("auto", [], {"avx2"})[0] == "float32"


def test_bfloat16_cpu_keeps_the_faster_measured_policy():
    timings = {"float32": 0.30, "mixed_bfloat16": 0.15}
    policy, why = hardware.choose_precision("auto", [], {"avx512_bf16"}, timings.get)
    assert policy == "mixed_bfloat16"
    assert "300 ms/step" in why and "150 ms/step" in why
    timings = {"float32": 0.10, "mixed_bfloat16": 0.25}
    assert hardware.choose_precision("auto", [], {"amx_bf16"}, timings.get)[0] == "float32"


def test_xla_is_off_on_cpu_unless_asked():
    assert hardware.choose_jit("auto", []) == (False, hardware.choose_jit("auto", [])[1])
    assert hardware.choose_jit("on", [])[0] is True
    assert hardware.choose_jit("off", ["gpu"])[0] is False
    assert hardware.choose_jit("auto", ["gpu"])[0] is True


def test_plan_on_this_machine_logs_a_reason():
    plan = hardware.plan_execution("float32", "off")
    assert plan.precision == "float32" and plan.jit_compile is False
    assert "precision float32" in plan.reason and plan.device in ("CPU",) or "GPU" in plan.device


# How TensorFlow words a failed op inside a tf.function: the cause comes after the node's stack.
GRAPH_ERROR = """Graph execution error:

Detected at node model/conv2d/Conv2D defined at (most recent call last):
  File "models/training/timing.py", line 40, in step

Operation received an exception:Status: 5, message: could not create a primitive descriptor for a \
convolution forward propagation primitive, in file tensorflow/core/kernels/mkl/mkl_conv_ops.cc:1171
\t [[{{node model/conv2d/Conv2D}}]] [Op:__inference_step_1234]"""


def test_a_bfloat16_step_that_fails_falls_back_to_float32():
    def probe(policy):
        if policy == "mixed_bfloat16":
            raise tf.errors.AbortedError(None, None, GRAPH_ERROR)
        return 0.1

    policy, why = hardware.choose_precision("auto", [], {"avx512_bf16"}, probe)
    assert policy == "float32"
    assert "mixed_bfloat16 step failed (Operation received an exception:Status: 5" in why
    assert "could not create a primitive descriptor" in why


def test_without_bfloat16_kernels_the_trainer_plans_float32():
    """oneDNN limited to AVX2 has no bfloat16 convolution: the real probe must not crash."""
    script = (
        "import startup; startup.start(); from core.config import get_config; "
        "from components.example_gen.oxford import OXFORD_PETS; "
        "from models.training import execution; "
        "config = get_config('test').with_dataset(OXFORD_PETS).trainer(); "
        "print('PLAN', execution.plan_for(config).precision)"
    )
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "PLAN float32" in result.stdout
