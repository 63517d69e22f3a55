"""What a run prints: one line per component start and finish (with its time), petunet's own
lines, real warnings once each, and nothing of the libraries' start-up noise.

The noise has two sources. Python's logging (TFX, TFMA, TensorFlow's deprecation notices) is
filtered by `ConsoleFilter`. The C++ side of TensorFlow and XLA writes to file descriptor 2
directly, past Python: the CUDA factories registered twice, TensorRT and CUDA drivers looked for on
a machine without a GPU, XLA's start-up lines. `StderrFilter` puts a pipe in front of descriptor
2 for the run and drops exactly those lines; everything else (a traceback included) passes.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import warnings

HAS_NVIDIA_DRIVER = os.path.exists("/proc/driver/nvidia")
# Lines of TensorFlow's C++ start-up that say nothing about the run. Registration of the CUDA
# factories twice is meaningless everywhere; the rest only on a machine without an NVIDIA driver.
ALWAYS_NOISE = (
    r"Unable to register cu(FFT|DNN|BLAS) factory",
    r"All log messages before absl::InitializeLog\(\) is called",
    r"^I0000 ",  # absl INFO lines written before logging is set up (XLA service start-up)
    r"cpu_feature_guard\.cc",
    r"To enable the following instructions: .* rebuild TensorFlow",
    r"oneDNN custom operations are on",
    r"Local rendezvous is aborting with status",  # the Python exception says it, once
    r"jpeg_mem\.cc|Premature end of JPEG data|Corrupt JPEG data",  # the ingest report says it
    r"png_io\.cc|iCCP: known incorrect sRGB profile",  # libpng on harmless colour profiles
    r"OP_REQUIRES failed at",  # a failing op, before the Python exception that says it again
    r"^\s*\[\[\{\{node ",
)
NO_GPU_NOISE = (r"TF-TRT Warning: Could not find TensorRT", r"cudart_stub\.cc", r"cuda_executor")
# Python warnings of the libraries TFX pulls in, about their own future.
PYTHON_WARNINGS = (
    "You are using a non-supported Python version",
    "Support for google-cloud-storage < 3.0.0 will be removed",
)
# Log records that describe TFX's or TensorFlow's internals, not the run.
LOG_NOISE = (
    r"is deprecated and will be removed",
    r"No semi_persistent_directory found",  # Beam's worker processes, about themselves
    r"Discarding unparseable args",
    r"ArtifactQuery\.property_predicate is not supported",  # TFX's resolver on SQLite MLMD
    r"^Running pipeline:",
    r"^Execution \d+ failed\.$",  # the run's own last line says what failed and why
    # Keras timing its callbacks against steps of milliseconds (the test preset on busy cores);
    # the progress lines say the real rate.
    r"^Callback method `on_\w+` is slow compared to the batch time",
)
_COMPONENT = re.compile(r"^Component (\S+) is (running|finished)\.$")


def noise_pattern() -> re.Pattern[str]:
    patterns = ALWAYS_NOISE + (() if HAS_NVIDIA_DRIVER else NO_GPU_NOISE)
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def silence_python_warnings() -> None:
    """In this process and, through PYTHONWARNINGS, in the ones it starts (Beam's workers)."""
    for message in PYTHON_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    inherited = [entry for entry in os.environ.get("PYTHONWARNINGS", "").split(",") if entry]
    ours = [f"ignore:{message}" for message in PYTHON_WARNINGS]
    os.environ["PYTHONWARNINGS"] = ",".join(dict.fromkeys(inherited + ours))


_RUNNING: list[str] = []  # components started and not finished, in order


def running_component() -> str | None:
    """The component that is running now (the last one started), for messages."""
    return _RUNNING[-1] if _RUNNING else None


class ConsoleFilter(logging.Filter):
    """Keeps petunet's lines and component progress (with elapsed times), each warning once."""

    def __init__(self) -> None:
        super().__init__()
        self._started: dict[str, float] = {}
        self._warned: set[str] = set()
        self._noise = re.compile("|".join(f"(?:{p})" for p in LOG_NOISE))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._noise.search(message):
            return False
        if record.levelno >= logging.WARNING:
            first = message not in self._warned
            self._warned.add(message)
            return first
        found = _COMPONENT.match(message)
        if found:
            name, event = found.groups()
            if event == "running":
                self._started[name] = time.monotonic()
                _RUNNING.append(name)
                record.msg, record.args = f"{name} started", ()
            else:
                if name in _RUNNING:
                    _RUNNING.remove(name)
                seconds = time.monotonic() - self._started.pop(name, time.monotonic())
                record.msg, record.args = f"{name} finished in {seconds:.1f} s", ()
            return True
        return message.startswith("petunet")


def configure_logging() -> None:
    """Time-stamped lines on stderr through ConsoleFilter.

    absl's verbosity is set explicitly: TensorFlow's SavedModel writer saves it, lowers it and
    restores what it saved, which is WARNING when it was never set, and from the first saved
    model on (Transform's) TFX's component lines were lost.
    """
    from absl import logging as absl_logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    handler.addFilter(ConsoleFilter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    absl_logging.set_verbosity(absl_logging.INFO)
    silence_python_warnings()


_PROCESS_FILTER: StderrFilter | None = None


def filter_process_stderr() -> None:
    """StderrFilter from now to the end of the process (for programs: C++ start-up included)."""
    global _PROCESS_FILTER
    if _PROCESS_FILTER is None:
        import atexit

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
        _PROCESS_FILTER = StderrFilter().__enter__()
        atexit.register(_PROCESS_FILTER.__exit__, None, None, None)


class StderrFilter:
    """Drops noise lines written to file descriptor 2 while the `with` block runs."""

    def __init__(self, pattern: re.Pattern[str] | None = None) -> None:
        self._pattern = pattern or noise_pattern()

    def __enter__(self) -> StderrFilter:
        sys.stderr.flush()
        self._original = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._reader = threading.Thread(target=self._pump, args=(read_end,), daemon=True)
        self._reader.start()
        return self

    def _pump(self, read_end: int) -> None:
        with os.fdopen(read_end, "rb") as pipe, os.fdopen(os.dup(self._original), "wb") as out:
            for line in pipe:
                if not self._pattern.search(line.decode("utf-8", errors="replace")):
                    out.write(line)
                    out.flush()

    def __exit__(self, *exc_info: object) -> None:
        sys.stderr.flush()
        os.dup2(self._original, 2)  # closes the pipe's last write end: the reader drains, ends
        self._reader.join(timeout=10)
        os.close(self._original)
