"""Drift between the new span and the previous one, by TFDV's own drift comparators.

The per-image features the ExampleGen writes for it (height, width, mean intensity, each class's
share of the labelled pixels) get a Jensen-Shannon divergence comparator at the threshold
`--max-drift`, and TFDV compares the train split's statistics of this span with the previous
span's. A new camera (darker images), another scanner (other sizes) or objects of another scale
show up as a divergence on the feature that changed.
"""

from __future__ import annotations

import os
import re
from typing import Any

from core import contracts

DRIFT_FILE = "drift.json"  # beside the gated schema: what was compared, for the report
SPLIT = "train"
REPORT_ALL = 1e-9  # comparator threshold: report every divergence
# Two small samples from one distribution already differ by much of the gate's limit (10-bucket
# histograms); below this many train examples in either span, no verdict.
MIN_EXAMPLES = 50
JSD = re.compile(r"divergence between current and previous is ([0-9.eE+-]+)")


def drift_features(schema) -> list[str]:
    fixed = [contracts.HEIGHT_KEY, contracts.WIDTH_KEY, contracts.MEAN_INTENSITY_KEY]
    shares = [f.name for f in schema.feature if f.name.startswith(contracts.CLASS_SHARE_PREFIX)]
    present = {f.name for f in schema.feature}
    return [name for name in fixed if name in present] + sorted(shares)


def _stats(statistics_uri: str):
    import tensorflow_data_validation as tfdv

    path = os.path.join(statistics_uri, f"Split-{SPLIT}", "FeatureStats.pb")
    return tfdv.load_stats_binary(path)


def compare(schema, current_uri: str, previous_uri: str, max_drift: float) -> dict[str, Any]:
    """{feature: {"measure", "value", "threshold", "drifted"}} of this span against the previous
    one; value is TFDV's approximate Jensen-Shannon divergence. TFDV reports a divergence only
    above its comparator's threshold, so the comparators are set at (almost) zero to get every
    value, and the gate's own threshold decides."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    checked = schema_pb2.Schema()
    checked.CopyFrom(schema)
    names = drift_features(checked)
    for name in names:
        tfdv.get_feature(
            checked, name
        ).drift_comparator.jensen_shannon_divergence.threshold = REPORT_ALL
    current, previous = _stats(current_uri), _stats(previous_uri)
    counts = [s.datasets[0].num_examples for s in (current, previous)]
    if min(counts) < MIN_EXAMPLES:
        return {"too_few_examples": counts}
    anomalies = tfdv.validate_statistics(current, checked, previous_statistics=previous)
    result = {}
    for name in names:
        info = anomalies.anomaly_info.get(name)
        description = " ".join(r.description for r in info.reason) if info else ""
        found = JSD.search(description)
        value = float(found.group(1)) if found else 0.0
        result[name] = {
            "measure": "Jensen-Shannon divergence",
            "value": value,
            "threshold": max_drift,
            "drifted": value > max_drift,
        }
    return result
