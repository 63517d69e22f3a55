"""Training step times with one replica, two replicas (logical CPU devices) and two workers (a
local TF_CONFIG cluster), the same global batch, through the real pipeline.

    python -m bench replicas                          # test preset, 300 steps
    python -m bench replicas --preset demo --steps 400

Each configuration is a whole local_runner.py run on its own output dir (the same generated data);
the rate is the Trainer's own progress line at the end of training (images/s over the steps after
the first, which pays for tracing). On a 2-core machine two replicas or two workers share the same
two cores, so this measures what distribution costs, not what it gains: the gain needs more devices.
Writes outputs/bench/replicas.json.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from bench.machine import describe as describe_machine
from bench.machine import write_results
from bench.paths import run_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("replicas")
_RATE = re.compile(r"step (\d+)/(\d+) \(\d+%\), ([\d.]+) images/s")
WAYS = {
    "1 replica": (),
    "2 replicas (logical CPUs)": ("--train-devices", "2"),
    "2 workers (local cluster)": ("--train-workers", "2"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="test")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="bench_replicas_")
    rows = {}
    for index, (way, flags) in enumerate(WAYS.items()):
        command = [sys.executable, "local_runner.py", "--preset", args.preset, "--no-report",
                   "--output-dir", os.path.join(work, str(index)), "--train-steps", str(args.steps),
                   "--train-minutes", "0", "--mean-iou-threshold", "0", *flags]  # fmt: skip
        started = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(result.stderr[-3000:])
        rates = _RATE.findall(result.stderr + result.stdout)
        images_per_s = float(rates[-1][2])
        rows[way] = {"images_per_s": images_per_s, "run_seconds": time.perf_counter() - started}
        print(f"{way:<28} {images_per_s:7.1f} images/s  run {rows[way]['run_seconds']:.0f} s")
    one = rows["1 replica"]["images_per_s"]
    for row in rows.values():
        row["x_one_replica"] = row["images_per_s"] / one
    results = {"machine": describe_machine(), "preset": args.preset, "steps": args.steps, **rows}
    write_results(RESULTS, results)
    return 0
