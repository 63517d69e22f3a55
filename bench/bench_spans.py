"""What a weekly run costs against a full rerun: a new span ingested and a warm start, against
the same images in one folder trained from scratch.

    python -m bench spans                            # 400 pets a span, test preset
    python -m bench spans --images 1000 --preset demo --steps 4400

Three real pipeline runs, one after the other on this machine:
- week 1: a data root with span-1/ only, trained for `--steps` (a fresh output dir);
- week 2: span-2/ added to the same root and output dir, `--warm-start` for a third of the steps:
  the ExampleGen reads span 2 only, the Trainer starts from week 1's blessed model;
- full rerun: both spans' images as one flat folder, a fresh output dir, `--steps` from scratch,
  what the same week costs without spans.
Wall time of each command and each component's time (its console lines). Writes
outputs/bench/spans.json.
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
from pipeline import run_report
from pipeline.synthetic.pets import generate_synthetic_pets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("spans")
_FINISHED = re.compile(r"(\S+) finished in ([\d.]+) s")


def _run(out: str, data: str, preset: str, *flags: str) -> dict:
    command = [sys.executable, "local_runner.py", "--preset", preset, "--no-report",
               "--output-dir", out, "--data-root", data, *flags]  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    summary = run_report.summarize(os.path.join(out, "metadata.sqlite"), "petunet")
    return {
        "seconds": seconds,
        "components": {m[1]: float(m[2]) for m in _FINISHED.finditer(result.stderr)},
        "eval_mean_iou": summary["eval_metrics"].get("mean_iou"),
        "pushed": bool(summary["pushed"]),
        "steps": summary["training"].get("steps"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400, help="pets a span")
    parser.add_argument("--preset", default="test")
    parser.add_argument("--steps", type=int, default=150, help="week 1's and the rerun's steps")
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="bench_spans_")
    spans, flat = os.path.join(work, "spans"), os.path.join(work, "flat")
    generate_synthetic_pets(os.path.join(spans, "span-1"), args.images, 1)
    steps = ["--train-steps", str(args.steps), "--train-minutes", "0"]
    week1 = _run(os.path.join(work, "weekly"), spans, args.preset, *steps)
    generate_synthetic_pets(os.path.join(spans, "span-2"), args.images, 2)
    week2 = _run(
        os.path.join(work, "weekly"), spans, args.preset, "--warm-start",
        "--train-steps", str(args.steps // 3), "--train-minutes", "0",
    )  # fmt: skip
    generate_synthetic_pets(flat, 2 * args.images, 3)
    full = _run(os.path.join(work, "full"), flat, args.preset, *steps)
    results = {
        "machine": describe_machine(),
        "preset": args.preset,
        "images_per_span": args.images,
        "steps": args.steps,
        "week_1": week1,
        "week_2_warm_start": week2,
        "full_rerun": full,
        "week_2_over_full": week2["seconds"] / full["seconds"],
    }
    for name in ("week_1", "week_2_warm_start", "full_rerun"):
        row = results[name]
        parts = ", ".join(f"{k} {v:.0f} s" for k, v in row["components"].items())
        print(f"{name:<18} {row['seconds']:6.0f} s  mean IoU {row['eval_mean_iou']:.3f}  ({parts})")
    print(f"week 2 costs {results['week_2_over_full']:.2f} of a full rerun")
    write_results(RESULTS, results)
    return 0
