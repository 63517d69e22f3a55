"""The console's log filter: petunet's lines and component times pass, library noise does not,
and a real warning shows once."""

from __future__ import annotations

import logging

from startup.console import ConsoleFilter


def _record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("tensorflow", level, __file__, 1, message, (), None)


def test_the_filter_keeps_the_run_and_drops_the_libraries_noise():
    keep = ConsoleFilter()
    assert keep.filter(_record("petunet: training step 41/400 (10%)"))
    slow = "Callback method `on_train_batch_end` is slow compared to the batch time (0.03s)."
    assert not keep.filter(_record(slow, logging.WARNING))
    assert not keep.filter(_record("foo is deprecated and will be removed in a future version"))
    assert not keep.filter(_record("a TFX internal line that says nothing of the run"))
    warning = _record("the eval split holds 3 examples", logging.WARNING)
    assert keep.filter(warning) and not keep.filter(warning)  # once


def test_component_lines_say_started_and_finished_with_the_time():
    keep = ConsoleFilter()
    started = _record("Component Trainer is running.")
    assert keep.filter(started) and started.getMessage() == "Trainer started"
    finished = _record("Component Trainer is finished.")
    assert keep.filter(finished) and finished.getMessage().startswith("Trainer finished in ")
