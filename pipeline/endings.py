"""How a run ends: one `petunet:` line and an exit code a scheduler can act on.

0 done (pushed, or deliberately not), 1 the data or a gate stopped the run, 2 a bad setting or a
busy output dir, 3 this machine could not run it (no kernels for the precision, out of memory, disk
full: worth a retry elsewhere), 130 interrupted (SIGINT), 143 terminated (SIGTERM), 70 a bug in
petunet (the one ending that prints a traceback). Every other ending writes its traceback to
`<output-dir>/logs/` instead of the console (`--debug` prints it too).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass

from core import errors
from core.settings import SettingError

LOG_DIR = "logs"
EXIT_CODES = (
    (errors.EXIT_DONE, "done: the model was pushed, or deliberately not (none better serves)"),
    (errors.EXIT_DATA, "the data or a data gate stopped the run"),
    (errors.EXIT_SETTINGS, "a bad setting, or the output dir is in use by another run"),
    (errors.EXIT_MACHINE, "this machine could not run it (kernels, memory, disk): retry elsewhere"),
    (errors.EXIT_BUG, "a bug in petunet (the traceback says where)"),
    (errors.EXIT_INTERRUPTED, "interrupted (SIGINT, Ctrl-C)"),
    (errors.EXIT_TERMINATED, "terminated (SIGTERM)"),
)  # fmt: skip


@dataclass(frozen=True)
class Ending:
    code: int
    lines: tuple[str, ...]
    bug: bool = False


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _first_line(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return " ".join(message.strip().splitlines()[0].split())[:300]


def classify(error: BaseException, component: str | None) -> Ending:
    """The ending for an exception that stopped the run inside `component` (None: before one)."""
    where = f"{component}: " if component else ""
    chain = list(_chain(error))
    for link in chain:
        if isinstance(link, KeyboardInterrupt):
            return Ending(errors.EXIT_INTERRUPTED, (f"{where}interrupted; the next run resumes",))
        if isinstance(link, errors.Terminated):
            return Ending(errors.EXIT_TERMINATED, (f"{where}terminated; the next run resumes",))
    for link in chain:
        if isinstance(link, errors.PetunetError):
            return Ending(
                link.exit_code, tuple(f"{where}{line}" for line in str(link).splitlines())
            )
        if isinstance(link, SettingError):
            return Ending(errors.EXIT_SETTINGS, (f"{where}{link}",))
    for link in chain:
        if errors.is_disk_full(link):
            return Ending(
                errors.EXIT_MACHINE,
                (f"{where}the disk is full ({_first_line(link)}); free space under --output-dir "
                 "and run again: the run resumes where it stopped",),
            )  # fmt: skip
        if errors.is_out_of_memory(link):
            return Ending(
                errors.EXIT_MACHINE,
                (f"{where}out of memory ({_first_line(link)}); run it on a machine with more "
                 "memory, or with a smaller --batch-size or --tile-size",),
            )  # fmt: skip
    return Ending(errors.EXIT_BUG, (f"{where}{type(error).__name__}: {_first_line(error)}",), True)


def write_log(output_dir: str, error: BaseException) -> str | None:
    """The full traceback in <output-dir>/logs/; its path (None if it cannot be written)."""
    try:
        folder = os.path.join(output_dir, LOG_DIR)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}.log")
        with open(path, "w") as f:
            f.write("".join(traceback.format_exception(type(error), error, error.__traceback__)))
        return path
    except OSError:  # the disk may be what is full
        return None


# Seconds between deliveries of the same interrupt until the run's top level has caught it.
REDELIVER_SECONDS = 3.0
_interrupt = {"signal": None, "caught": False}


def raise_on_signals() -> None:
    """SIGINT raises KeyboardInterrupt and SIGTERM Terminated in the main thread, so both unwind
    the run the same way (the lock released, child processes stopped), and each is raised again
    every REDELIVER_SECONDS until `interrupt_caught()` says the top level has it.

    One delivery is not enough: native code that calls back into Python and clears the errors it
    gets (TensorFlow's bindings clear some) drops an interrupt that lands there without a trace.
    """
    _interrupt.update(signal=None, caught=False)

    def handler(signum, frame):
        if _interrupt["signal"] is None:
            _interrupt["signal"] = signum
            threading.Thread(target=_redeliver, args=(signum,), daemon=True).start()
        raise KeyboardInterrupt() if signum == signal.SIGINT else errors.Terminated()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _redeliver(signum: int) -> None:
    main = threading.main_thread().ident
    while True:
        time.sleep(REDELIVER_SECONDS)
        if _interrupt["caught"]:
            return
        signal.pthread_kill(main, signum)


def interrupt_caught() -> None:
    """The run's top level has the interrupt: no more deliveries while it cleans up."""
    _interrupt["caught"] = True
