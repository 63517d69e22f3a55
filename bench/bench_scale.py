"""The full-size data set at the paper's tile, end to end: time, peak memory and disk per component.

    python -m bench scale                          # 7,349 and 1,000 images (about 30 min)
    python -m bench scale --sizes 1000 --train-steps 10

Generates synthetic pets with the real Oxford-IIIT Pet set's counts (7,349 listed: 3,680 trainval,
3,669 test; list.txt with its header) and a size spread like the photographs' (mostly 300-500 px a
side, one in twenty up to 1,500 px), then runs the whole pipeline at the paper's tile and depth
(572, 5) with a tiny network (2 base filters) and few steps, so that only data volume is exercised,
through both Evaluators on the full eval and test splits. Per component: wall time (from the
console's "finished in" lines), peak resident memory of the runner and all its children while it
ran (sampled every 0.2 s), and bytes written. Writes outputs/bench/scale.json.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import psutil

from bench.bench_pipeline_memory import tree_rss
from bench.machine import describe as describe_machine
from bench.machine import write_results
from bench.paths import run_path
from pipeline.synthetic.catalogue import OXFORD_TEST, OXFORD_TRAINVAL
from pipeline.synthetic.pets import generate_synthetic_pets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("scale")
EVENT = re.compile(r"^\S+ (\S+) (started|finished in ([\d.]+) s)$")


def _bytes_under(path: str) -> int:
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(path)
        for name in names
    )


def run(images: int, work: str, train_steps: int, extra: list[str]) -> dict:
    data = os.path.join(work, f"pets_{images}")
    trainval = round(images * OXFORD_TRAINVAL / (OXFORD_TRAINVAL + OXFORD_TEST))
    started = time.time()
    generate_synthetic_pets(data, images, 0, trainval_count=trainval, size_spread="oxford")
    generated = time.time() - started
    output = os.path.join(work, f"run_{images}")
    command = [
        sys.executable, "local_runner.py", "--preset", "paper", "--data-root", data,
        "--output-dir", output, "--base-filters", "2", "--train-steps", str(train_steps),
        "--eval-steps", "2", "--checkpoint-every-steps", str(train_steps),
        "--mean-iou-threshold", "0", *extra,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    watched = psutil.Process(process.pid)
    state = {"component": "start-up", "peaks": {}, "times": {}, "log": []}

    def follow() -> None:
        for line in process.stderr:
            state["log"].append(line)
            found = EVENT.match(line.strip())
            if found and found.group(2) == "started":
                state["component"] = found.group(1)
            elif found:
                state["times"][found.group(1)] = float(found.group(3))
                state["component"] = "between components"

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    overall = 0
    while process.poll() is None:
        rss = tree_rss(watched)
        overall = max(overall, rss)
        name = state["component"]
        state["peaks"][name] = max(state["peaks"].get(name, 0), rss)
        time.sleep(0.2)
    reader.join(timeout=10)
    stdout = process.stdout.read()
    if process.returncode != 0:
        raise RuntimeError(f"the run at {images} images failed:\n{''.join(state['log'][-40:])}")
    root = os.path.join(output, "pipeline_root")
    components = {}
    for name in sorted(state["times"]):
        components[name] = {
            "seconds": state["times"][name],
            "peak_rss_mib": state["peaks"].get(name, 0) / 2**20,
            "bytes_written": _bytes_under(os.path.join(root, name)),
        }
    return {
        "images": images,
        "generate_seconds": generated,
        "pipeline_seconds": time.time() - started - generated,
        "peak_rss_mib": overall / 2**20,
        "components": components,
        "summary": [  # the metrics; the run's own paths say nothing about the scale
            line
            for line in stdout.strip().splitlines()[-14:]
            if not line.strip().startswith(("pushed to:", "report:"))
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[7349, 1000])
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--work", default=None, help="folder for data and runs (default: temp)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="runner flags")
    args = parser.parse_args(argv)
    work = args.work or tempfile.mkdtemp(prefix="bench_scale_")
    rows = [run(n, work, args.train_steps, args.extra) for n in args.sizes]
    print("| images | component | seconds | peak RSS (MiB) | written (MB) |")
    print("|---|---|---|---|---|")
    for row in rows:
        for name, c in row["components"].items():
            print(f"| {row['images']} | {name} | {c['seconds']:.0f} | {c['peak_rss_mib']:.0f} | "
                  f"{c['bytes_written'] / 1e6:.1f} |")  # fmt: skip
        print(f"| {row['images']} | **whole run** | {row['pipeline_seconds']:.0f} | "
              f"{row['peak_rss_mib']:.0f} | |")  # fmt: skip
    write_results(RESULTS, {"machine": describe_machine(), "rows": rows})
    return 0
