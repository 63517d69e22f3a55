"""An interrupt that a library swallows is delivered again until the run's top level has it, and
not once more after that (its clean-up runs to the end)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from pipeline.endings import REDELIVER_SECONDS
from tests.e2e_runs import ROOT

# A process that drops the first interrupt, as TensorFlow's C++ fast paths can, then stops.
PROGRAM = """
import sys, time
from core import errors
from pipeline import endings


def drop_the_first_interrupt():
    try:
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    except BaseException:
        print("swallowed", flush=True)
    while True:
        time.sleep(0.05)


endings.raise_on_signals()
try:
    drop_the_first_interrupt()
except (KeyboardInterrupt, errors.Terminated) as error:
    endings.interrupt_caught()
    time.sleep(2.5 * endings.REDELIVER_SECONDS)  # a clean-up that no later delivery cuts short
    print(type(error).__name__, "after the drop", flush=True)
    sys.exit(3)
"""


@pytest.mark.parametrize(
    "sig,raised", [(signal.SIGINT, "KeyboardInterrupt"), (signal.SIGTERM, "Terminated")]
)
def test_a_swallowed_interrupt_comes_again_until_the_top_level_has_it(sig, raised):
    process = subprocess.Popen(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout.readline().strip() == "ready"
    sent = time.monotonic()
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)  # one delivery only: it never ends
    waited = time.monotonic() - sent
    assert process.returncode == 3, out + err
    assert out.splitlines() == ["swallowed", f"{raised} after the drop"], err
    assert waited < 3.5 * REDELIVER_SECONDS + 3  # the second delivery came, then the clean-up
