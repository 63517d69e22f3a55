"""Which demo a run without --preset gets: the CPU's flags and oneDNN's ISA cap decide, and the
run says which and why."""

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
    assert 0 < light.training.train_minutes < full.training.train_minutes
    assert light.transform.tile_size == full.transform.tile_size


@pytest.mark.parametrize("fast,preset", [(True, "demo"), (False, "demo-float32")])
def test_a_run_without_preset_gets_the_demo_for_its_cpu_and_says_so(
    monkeypatch, caplog, fast, preset
):
    monkeypatch.setattr(cpu, "bfloat16_training", lambda: (fast, "because"))
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
