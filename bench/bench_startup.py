"""A process's start-up: importing what a run imports (TFX, Transform, TFMA, the runner), with the
bytecode compiled at install against compiling from source, as a process does where none is
cached and PYTHONDONTWRITEBYTECODE is set (so nothing is cached later either).

    python -m bench startup                      # 3 rounds, the two ways alternating

"From source" points PYTHONPYCACHEPREFIX at an empty folder: Python then finds no compiled file
for any module and, with PYTHONDONTWRITEBYTECODE, compiles each one again in every process. Every
component of a LocalDagRunner run shares one process; each test that starts a runner, a Beam
worker or a serving process pays it once more. Writes outputs/bench/startup.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench.paths import run_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("startup")
IMPORTS = (
    "import local_runner, tfx.v1, tensorflow_transform, tensorflow_model_analysis, "
    "tensorflow_data_validation"
)


def _seconds(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORTS], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from bench.machine import describe, write_results

    base = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    base.pop("PYTHONPYCACHEPREFIX", None)
    timings: dict[str, list[float]] = {"compiled at install": [], "from source": []}
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as empty:
        ways = {"compiled at install": base, "from source": {**base, "PYTHONPYCACHEPREFIX": empty}}
        for _ in range(args.rounds):
            for name, env in ways.items():
                timings[name].append(_seconds(env))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, value in medians.items():
        print(f"{name:<20} {value:6.1f} s")
    ratio = medians["from source"] / medians["compiled at install"]
    print(f"from source / compiled: {ratio:.2f}x")
    write_results(RESULTS, {"machine": describe(), "imports": IMPORTS, "seconds": medians,
                            "rounds": timings, "ratio": ratio})  # fmt: skip
    return 0
