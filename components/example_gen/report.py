"""The ingest report: per split, how many names were listed and ingested, and why others were not.

Built inside the Beam pipeline as a CombineFn over one small outcome record per listed name, so
it scales with the data set; the executor writes it as `ingest_report.json` at the root of the
examples artifact and checks it afterwards (Listed = ingested + skipped, always).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import apache_beam as beam

from core.errors import NoUsableExamples

REPORT_FILE = "ingest_report.json"


class Outcome(NamedTuple):
    """What happened to one listed row. reason: None when ingested; note: why re-encoded."""

    split: str
    name: str
    reason: str | None = None
    note: str | None = None


def _empty_split() -> dict[str, Any]:
    return {"listed": 0, "ingested": 0, "skipped": [], "reencoded": []}


class ReportFn(beam.CombineFn):
    """Outcomes -> the report dict; skipped and re-encoded names sorted so reruns compare equal."""

    def __init__(self, split_names: Sequence[str]) -> None:
        self._split_names = tuple(split_names)

    def create_accumulator(self) -> dict[str, dict[str, Any]]:
        return {split: _empty_split() for split in self._split_names}

    def add_input(self, acc: dict[str, dict[str, Any]], outcome: Outcome) -> dict:
        entry = acc.setdefault(outcome.split, _empty_split())
        entry["listed"] += 1
        if outcome.reason is None:
            entry["ingested"] += 1
            if outcome.note:
                entry["reencoded"].append({"name": outcome.name, "note": outcome.note})
        else:
            entry["skipped"].append({"name": outcome.name, "reason": outcome.reason})
        return acc

    def merge_accumulators(self, accumulators: Iterable[dict[str, dict[str, Any]]]) -> dict:
        merged = self.create_accumulator()
        for acc in accumulators:
            for split, entry in acc.items():
                target = merged.setdefault(split, _empty_split())
                target["listed"] += entry["listed"]
                target["ingested"] += entry["ingested"]
                target["skipped"].extend(entry["skipped"])
                target["reencoded"].extend(entry["reencoded"])
        return merged

    def extract_output(self, acc: dict[str, dict[str, Any]]) -> dict[str, Any]:
        splits = {}
        for split, entry in acc.items():
            splits[split] = {
                **entry,
                "skipped": sorted(entry["skipped"], key=lambda s: (s["name"], s["reason"])),
                "reencoded": sorted(entry["reencoded"], key=lambda s: s["name"]),
            }
        return {
            "splits": splits,
            "listed": sum(s["listed"] for s in splits.values()),
            "ingested": sum(s["ingested"] for s in splits.values()),
            "skipped": sum(len(s["skipped"]) for s in splits.values()),
            "reencoded": sum(len(s["reencoded"]) for s in splits.values()),
        }


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=1, sort_keys=True)


def summary(report: dict[str, Any], path: str) -> str:
    """One log line: totals, then ingested/listed per split, then where the details are."""
    per_split = ", ".join(
        f"{split} {entry['ingested']}/{entry['listed']}"
        for split, entry in sorted(report["splits"].items())
    )
    return (
        f"ExampleGen: listed {report['listed']}, ingested {report['ingested']}, skipped "
        f"{report['skipped']}, re-encoded {report['reencoded']} (ingested/listed: {per_split}); "
        f"details in {path}"
    )


def check(report: dict[str, Any], path: str) -> None:
    """Raises when the counts do not add up or a split came out empty (no empty data sets)."""
    for split, entry in report["splits"].items():
        if entry["ingested"] + len(entry["skipped"]) != entry["listed"]:
            raise RuntimeError(f"ingest report {path}: split {split!r} counts do not add up")
    empty = sorted(split for split, entry in report["splits"].items() if entry["ingested"] == 0)
    if empty:
        raise NoUsableExamples(
            f"no usable examples in split(s) {', '.join(empty)} (listed "
            f"{', '.join(str(report['splits'][s]['listed']) for s in empty)}); the skipped names "
            f"and reasons are in {path}; fix or replace those files, or point --data-root at "
            "another folder"
        )
