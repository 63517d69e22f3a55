"""Peak memory of a whole local pipeline run at two data sizes: it must not grow with the data.

    python -m bench pipeline_memory                      # 500 and 2000 images, demo preset
    python -m bench pipeline_memory --sizes 100 400 --train-steps 20

Each size runs `local_runner.py` in a fresh process (fresh output directory, no cache) while the
peak resident memory of the process and its children is sampled every 0.2 s. Training steps are
fixed (`--train-steps`), so the two runs differ only in how much data flows through ExampleGen,
StatisticsGen, Transform and the Evaluators. Writes outputs/bench/pipeline_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import psutil

from bench.paths import run_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("pipeline_memory")


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants (Beam workers included)."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_once(images: int, preset: str, train_steps: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as output_dir:
        command = [
            sys.executable, "local_runner.py", "--preset", preset, "--output-dir", output_dir,
            "--num-images", str(images), "--train-steps", str(train_steps), "--no-cache",
            "--mean-iou-threshold", "0", *extra,
        ]  # fmt: skip
        started = time.time()
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        watched = psutil.Process(process.pid)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss(watched))
            time.sleep(0.2)
        stderr = process.stderr.read() if process.stderr else ""
        if process.returncode != 0:
            raise RuntimeError(f"pipeline failed at {images} images:\n{stderr[-3000:]}")
        return {"images": images, "peak_rss_mib": peak / 2**20, "seconds": time.time() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="peak memory of a pipeline run at two sizes")
    parser.add_argument("--sizes", nargs="+", type=int, default=[500, 2000])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="runner flags")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    rows = [run_once(n, args.preset, args.train_steps, args.extra) for n in args.sizes]
    base = rows[0]["peak_rss_mib"]
    print("| images | peak RSS (MiB) | vs smallest | seconds |")
    print("|---|---|---|---|")
    for row in rows:
        row["ratio_to_smallest"] = row["peak_rss_mib"] / base
        print(
            f"| {row['images']} | {row['peak_rss_mib']:.0f} | {row['ratio_to_smallest']:.2f} | "
            f"{row['seconds']:.0f} |"
        )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as out:
        json.dump({"cpus": os.cpu_count(), "preset": args.preset, "rows": rows}, out, indent=2)
    return 0
