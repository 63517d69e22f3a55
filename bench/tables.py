"""docs/PERFORMANCE.md's tables, generated from the committed baselines (bench/results/NAME.json,
one per benchmark): `python -m bench.tables` rewrites them in place, and a test checks the page
matches. A run of a benchmark writes to outputs/bench/ (not committed); a new baseline is that file
copied over the old one."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from bench.paths import BASELINES, ROOT

PAGE = os.path.join(ROOT, "docs", "PERFORMANCE.md")
START, END = "<!-- baseline: {} -->", "<!-- end of baseline -->"
MACHINE_KEYS = ("cpu", "cpus", "cpu_bf16", "gpus", "onednn", "tensorflow")


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _rows(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(measure, value) for every scalar in the JSON, its path as the measure's name."""
    if isinstance(value, dict):
        return [row for key, inner in value.items() for row in _rows(inner, f"{path}{key} / ")]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [row for i, inner in enumerate(value) for row in _rows(inner, f"{path}{i + 1}. ")]
    text = ", ".join(map(_number, value)) if isinstance(value, list) else _number(value)
    return [(path.rstrip(" /").rstrip(".") or "value", text.replace("|", "\\|"))]


def table(name: str) -> str:
    """The markdown for one baseline: its machine, then every measure it holds."""
    with open(os.path.join(BASELINES, f"{name}.json"), encoding="utf-8") as f:
        data = json.load(f)
    machine = data.pop("machine", {}) if isinstance(data, dict) else {}
    said = ", ".join(f"{k} {machine[k]}" for k in MACHINE_KEYS if k in machine) or "not recorded"
    lines = [f"Machine: {said}.", "", "| measure | value |", "|---|---|"]
    lines += [f"| {measure} | {value} |" for measure, value in _rows(data)]
    return "\n".join(lines)


def names() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(BASELINES) if f.endswith(".json"))


def render(page: str) -> str:
    """`page` with every baseline's table regenerated between its markers."""
    for name in names():
        start = START.format(name)
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(END), re.S)
        if not pattern.search(page):
            raise ValueError(f"{PAGE} has no {start} ... {END} section")
        generated = f"{start}\n{table(name)}\n{END}"
        page = pattern.sub(lambda _, text=generated: text, page)
    return page


def main(argv: list[str] | None = None) -> int:
    with open(PAGE, encoding="utf-8") as f:
        page = f.read()
    with open(PAGE, "w", encoding="utf-8") as f:
        f.write(render(page))
    print(f"rewrote {len(names())} tables in {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
