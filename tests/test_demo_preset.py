"""The demo is one network on every machine: a run without --preset gets the demo preset whatever
the CPU, with a training budget of minutes and steps alone."""

from __future__ import annotations

import local_runner
from core import config as configs
from startup import cpu


def test_a_run_without_a_preset_gets_the_demo_whatever_the_machine(monkeypatch):
    for flags in ({"avx2", "fma"}, {"avx2", "avx512f", "avx512_bf16"}, set()):
        monkeypatch.setattr(cpu, "cpu_flags", lambda flags=flags: flags)
        config = local_runner.build_config(local_runner.parse_args([]))
        demo = configs.get_config("demo")
        assert config.training == demo.training and config.transform == demo.transform


def test_the_demo_budget_is_minutes_and_steps():
    training = configs.get_config("demo").training
    assert training.train_minutes == 6.0 and training.train_steps == 20_000
    assert not hasattr(training, "run_minutes")
    assert "demo-float32" not in configs.PRESETS


def test_the_cores_and_the_cpu_are_read_without_tensorflow():
    assert cpu.usable_cores() >= 1
    assert isinstance(cpu.cpu_model(), str)
