"""The ways a run can stop that the user can act on, as types, each with its exit code.

Components and the Trainer raise these (or the runner recognises the library's own error, see
pipeline/endings.py); the runner prints their message as one `petunet:` line and exits with the
code, so a scheduler can tell a data problem from a machine that cannot run the job.
"""

from __future__ import annotations

import errno

EXIT_DONE = 0  # pushed, or deliberately not (no better than the model serving)
EXIT_DATA = 1  # the data or a data gate stopped the run
EXIT_SETTINGS = 2  # a bad setting or a busy output dir
EXIT_MACHINE = 3  # this machine could not run it (kernels, memory, disk): retry elsewhere
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C), 128 + 2
EXIT_TERMINATED = 143  # SIGTERM (what Kubernetes sends), 128 + 15
EXIT_BUG = 70  # a bug in petunet itself (EX_SOFTWARE): the traceback says where


# What the libraries say when the machine, not the data or the code, stopped the work.
DISK_FULL = ("No space left on device", "Disk quota exceeded", "File too large")
NO_KERNELS = ("could not create a primitive", "No OpKernel was registered", "no kernel image")


def message_of(error: BaseException) -> str:
    """An error's text on one line (TensorFlow's `message` where it has one)."""
    return " ".join((getattr(error, "message", "") or str(error)).split())


def is_disk_full(error: BaseException) -> bool:
    no_space = isinstance(error, OSError) and error.errno in (
        errno.ENOSPC,
        errno.EFBIG,
        errno.EDQUOT,
    )
    return no_space or any(phrase in message_of(error) for phrase in DISK_FULL)


def is_out_of_memory(error: BaseException) -> bool:
    """Python's MemoryError or TensorFlow's ResourceExhaustedError (by name: no TF import)."""
    return isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError"


def missing_kernels(error: BaseException) -> str | None:
    """The library's words when no kernel exists for an op on this machine, else None."""
    message = message_of(error)
    found = [message.find(k) for k in NO_KERNELS if k in message]
    return message[min(found) :].split(" [[", 1)[0] if found else None


class PetunetError(Exception):
    """A stop with a message for the user; `exit_code` says what kind."""

    exit_code = EXIT_BUG


class DataProblem(PetunetError, RuntimeError):
    exit_code = EXIT_DATA


class MachineProblem(PetunetError, RuntimeError):
    exit_code = EXIT_MACHINE


class SettingProblem(PetunetError, RuntimeError):
    """A setting that cannot work, or an output dir another run holds."""

    exit_code = EXIT_SETTINGS


class NoUsableExamples(DataProblem):
    """A split from which no example could be ingested."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt for SIGINT."""
