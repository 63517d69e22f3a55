"""Where a benchmark's run writes its JSON (outputs/bench/, not committed) and where the committed
baseline of each benchmark lives (bench/results/NAME.json, from which docs/PERFORMANCE.md's tables
are generated)."""

from __future__ import annotations

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = os.path.join(ROOT, "outputs", "bench")
BASELINES = os.path.join(ROOT, "bench", "results")


def run_path(name: str) -> str:
    """The JSON file a run of benchmark `name` writes (copy it over the baseline to adopt it)."""
    return os.path.join(RUNS, f"{name}.json")
