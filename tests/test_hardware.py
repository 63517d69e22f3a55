"""Precision and XLA choices: honoured when set, measured where the hardware does not decide."""

from models.training import execution as hardware


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
