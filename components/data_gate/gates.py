"""The data gates: what must hold of the ingested data before a model is trained on it.

Validation that decides nothing protects nothing: ExampleValidator's anomalies, the share of
skipped files and the size of the eval split used to gate nothing (an eval split of 7 examples
blessed a model). Each gate names itself, the value it measured, its limit and the flag that
changes the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.contracts import EVAL
from core.errors import DataProblem


@dataclass(frozen=True)
class GateFailure:
    gate: str
    message: str

    def __str__(self) -> str:
        return f"data gate '{self.gate}' failed: {self.message}"


class DataGateFailed(DataProblem):
    """The data failed one or more gates: nothing is trained. One line per failed gate."""

    def __init__(self, failures: list[GateFailure]) -> None:
        super().__init__("\n".join(str(f) for f in failures))
        self.failures = failures


def check_anomalies(anomalies_by_split: dict[str, Any]) -> list[GateFailure]:
    """ExampleValidator's findings per split (tensorflow_metadata Anomalies protos)."""
    failures = []
    for split, anomalies in sorted(anomalies_by_split.items()):
        found = sorted(anomalies.anomaly_info)
        if anomalies.HasField("dataset_anomaly_info"):
            found.append("(the data set as a whole)")
        if found:
            details = "; ".join(
                f"{name}: {anomalies.anomaly_info[name].short_description}"
                for name in found
                if name in anomalies.anomaly_info
            )
            failures.append(
                GateFailure(
                    "anomalies",
                    f"ExampleValidator found {len(found)} anomal{'y' if len(found) == 1 else 'ies'}"
                    f" in split {split!r} ({details or found[0]}); fix the data, or let the run "
                    "go on with --allow-anomalies",
                )
            )
    return failures


def check_report(
    report: dict[str, Any], max_skipped_percent: float, min_eval_examples: int
) -> list[GateFailure]:
    """The ingest report against the share of skipped files and the eval split's size."""
    failures = []
    listed = report["listed"]
    skipped = 100.0 * report["skipped"] / listed if listed else 100.0
    if skipped > max_skipped_percent:
        failures.append(
            GateFailure(
                "skipped files",
                f"{skipped:.1f}% of the {listed} listed examples were skipped (limit "
                f"{max_skipped_percent:g}%, --max-skipped-percent); the reasons are in the "
                "ingest report",
            )
        )
    evaluated = report["splits"].get(EVAL, {}).get("ingested", 0)
    if evaluated < min_eval_examples:
        failures.append(
            GateFailure(
                "eval examples",
                f"the eval split holds {evaluated} examples, fewer than {min_eval_examples} "
                "(--min-eval-examples): a blessing on so few says little",
            )
        )
    return failures


def check_drift(comparison: dict[str, Any], span: int, previous_span: int) -> list[GateFailure]:
    """The features whose distribution moved further than --max-drift since the previous span."""
    failures = []
    for feature, measured in sorted(comparison.items()):
        if measured["drifted"]:
            failures.append(
                GateFailure(
                    "drift",
                    f"feature {feature!r} drifted from span {previous_span} to span {span}: "
                    f"{measured['measure']} {measured['value']:.3f} is over "
                    f"{measured['threshold']:g} (--max-drift); check the new data (another camera "
                    "or scanner?), or let the run go on with --allow-drift",
                )
            )
    return failures
