"""The ways a run can stop that the user can act on, as types, each with its exit code.

Components and the Trainer raise these (or the runner recognises the library's own error, see
pipeline/endings.py); the runner prints their message as one `petunet:` line and exits with the
code, so a scheduler can tell a data problem from a machine that cannot run the job.
"""

from __future__ import annotations

EXIT_DONE = 0  # pushed, or deliberately not (no better than the model serving)
EXIT_DATA = 1  # the data or a data gate stopped the run
EXIT_SETTINGS = 2  # a bad setting or a busy output dir
EXIT_MACHINE = 3  # this machine could not run it (kernels, memory, disk): retry elsewhere
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C), 128 + 2
EXIT_TERMINATED = 143  # SIGTERM (what Kubernetes sends), 128 + 15
EXIT_BUG = 70  # a bug in petunet itself (EX_SOFTWARE): the traceback says where


class PetunetError(Exception):
    """A stop with a message for the user; `exit_code` says what kind."""

    exit_code = EXIT_BUG


class DataProblem(PetunetError, RuntimeError):
    exit_code = EXIT_DATA


class MachineProblem(PetunetError, RuntimeError):
    exit_code = EXIT_MACHINE


class NoUsableExamples(DataProblem):
    """A split from which no example could be ingested."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt for SIGINT."""
