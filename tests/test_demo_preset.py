"""Which demo a run without --preset gets: the CPU's flags and oneDNN's ISA cap, the float32 rate
and the GPUs decide, and the run says which and why."""

from __future__ import annotations

import logging

import pytest

import local_runner
from models import config as configs
from models import cpu

BF16 = {"avx2", "avx512f", "avx512_bf16"}


@pytest.mark.parametrize(
    "flags,environ,fast",
    [
        (BF16, {}, True),
        ({"avx2", "amx_bf16"}, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX"}, True),
        (BF16, {"ONEDNN_MAX_CPU_ISA": "ALL"}, True),
        (BF16, {"ONEDNN_MAX_CPU_ISA": "avx2"}, False),
        (BF16, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}, False),
        ({"avx2", "fma"}, {}, False),
        (set(), {}, False),
    ],
)
def test_bfloat16_training_needs_the_flags_and_a_cap_that_keeps_them(flags, environ, fast):
    found, why = cpu.bfloat16_training(flags, environ)
    assert found is fast
    if environ and not fast:
        assert "ONEDNN_MAX_CPU_ISA" in why


def test_the_float32_demo_is_lighter_and_still_valid():
    full, light = configs.get_config("demo"), configs.get_config("demo-float32")
    assert light.training.base_filters < full.training.base_filters
    assert light.data.synthetic_num_images < full.data.synthetic_num_images
    # both train for what the run's ten minutes leave
    assert light.training.run_minutes == full.training.run_minutes > 0
    assert light.transform.tile_size == full.transform.tile_size


@pytest.mark.parametrize(
    "gflops,gpus,preset",
    [
        (64.0, 0, "demo-float32"),
        (configs.FULL_DEMO_FLOAT32_GFLOPS - 1, 0, "demo-float32"),
        (configs.FULL_DEMO_FLOAT32_GFLOPS, 0, "demo"),
        (190.0, 0, "demo"),
        (64.0, 1, "demo"),
    ],
)
def test_without_bfloat16_the_float32_rate_or_a_gpu_decides(gflops, gpus, preset):
    chosen, why = configs.demo_preset_for_this_machine((False, "no bf16"), lambda: gflops, gpus)
    assert chosen == preset
    assert why.startswith("no bf16")
    if gpus:
        assert "GPU" in why
    else:
        assert f"{gflops:.0f} GFLOP/s" in why


def _not_measured() -> float:
    raise AssertionError("the float32 rate was measured where bfloat16 or a GPU decides")


@pytest.mark.parametrize("bfloat16,gpus", [((True, "bf16"), 0), ((False, "no bf16"), 1)])
def test_bfloat16_or_a_gpu_gets_the_demo_without_timing_float32(bfloat16, gpus):
    assert configs.demo_preset_for_this_machine(bfloat16, _not_measured, gpus)[0] == "demo"


def test_the_float32_rate_is_measured_and_the_gpus_counted(tmp_path):
    assert 1.0 < cpu.float32_gflops(size=256, repeats=2) < 1e5
    assert cpu.usable_cores() >= 1
    assert cpu.nvidia_gpus(str(tmp_path / "absent")) == 0
    (tmp_path / "0000:00:04.0").mkdir()
    (tmp_path / "0000:00:05.0").mkdir()
    assert cpu.nvidia_gpus(str(tmp_path)) == 2


@pytest.mark.parametrize(
    "fast,gflops,preset",
    [(True, 1.0, "demo"), (False, 190.0, "demo"), (False, 64.0, "demo-float32")],
)
def test_a_run_without_preset_gets_the_demo_for_its_machine_and_says_so(
    monkeypatch, caplog, fast, gflops, preset
):
    monkeypatch.setattr(cpu, "bfloat16_training", lambda: (fast, "because"))
    monkeypatch.setattr(cpu, "float32_gflops", lambda: gflops)
    monkeypatch.setattr(cpu, "nvidia_gpus", lambda: 0)
    with caplog.at_level(logging.INFO):
        config = local_runner.build_config(local_runner.parse_args(["--train-minutes", "3"]))
    expected = configs.get_config(preset, train_minutes=3.0)
    assert config.training == expected.training
    assert config.data == expected.data
    assert f"preset {preset}: because" in caplog.text


def test_a_preset_named_on_the_command_line_is_kept(monkeypatch):
    monkeypatch.setattr(cpu, "bfloat16_training", lambda: (False, "because"))
    config = local_runner.build_config(local_runner.parse_args(["--preset", "demo"]))
    assert config.training == configs.get_config("demo").training


def test_the_float32_rate_is_one_cores_times_the_cores(monkeypatch):
    # Measured on one core, so another process busy on the other cores cannot halve it.
    monkeypatch.setattr(cpu, "usable_cores", lambda: 1)
    one = max(cpu.float32_gflops(size=256, repeats=10) for _ in range(3))
    monkeypatch.setattr(cpu, "usable_cores", lambda: 8)
    eight = max(cpu.float32_gflops(size=256, repeats=10) for _ in range(3))
    assert 4 < eight / one < 16
