"""DataGate: a Python-function component between validation and Transform.

Wiring: ExampleValidator's anomalies, the examples (their ingest report) and the curated schema
go in; the same schema comes out, and Transform and the Trainer read it from here, so neither runs
when a gate fails. The failure names the gate, the measured value and the flag to change it.
"""

import json
import os

from absl import logging
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.types import artifact_utils
from tfx.types.standard_artifacts import ExampleAnomalies, Examples, ExampleStatistics, Schema
from tfx.utils import io_utils
from tfx.v1.dsl.components import InputArtifact, OutputArtifact, Parameter, component

from components.data_gate import drift, gates
from components.example_gen.report import REPORT_FILE
from petunet import DriftReport

ANOMALIES_FILE = "SchemaDiff.pb"  # what ExampleValidator writes per split
SCHEMA_FILE = "schema.pbtxt"


def _anomalies(artifact: ExampleAnomalies) -> dict[str, anomalies_pb2.Anomalies]:
    found = {}
    for split in artifact_utils.decode_split_names(artifact.split_names):
        path = os.path.join(artifact_utils.get_split_uri([artifact], split), ANOMALIES_FILE)
        found[split] = anomalies_pb2.Anomalies.FromString(io_utils.read_bytes_file(path))
    return found


def _previous(statistics: ExampleStatistics, previous: ExampleStatistics | None):
    """The previous span's statistics, if there is a previous span (not for the first)."""
    return previous if previous is not None and previous.span < statistics.span else None


@component
def DataGate(  # a component: named like a class
    anomalies: InputArtifact[ExampleAnomalies],
    examples: InputArtifact[Examples],
    schema: InputArtifact[Schema],
    statistics: InputArtifact[ExampleStatistics],
    gated_schema: OutputArtifact[Schema],
    drift_report: OutputArtifact[DriftReport],
    previous_statistics: InputArtifact[ExampleStatistics] = None,  # optional: TFX's way
    max_skipped_percent: Parameter[float] = 10.0,
    min_eval_examples: Parameter[int] = 10,
    allow_anomalies: Parameter[bool] = False,
    max_drift: Parameter[float] = 0.3,
    allow_drift: Parameter[bool] = False,
) -> None:
    """Raises when a gate fails; otherwise passes the schema on (with the drift it measured)."""
    report = json.loads(io_utils.read_string_file(os.path.join(examples.uri, REPORT_FILE)))
    failures = gates.check_report(report, max_skipped_percent, min_eval_examples)
    if not allow_anomalies:
        failures += gates.check_anomalies(_anomalies(anomalies))
    source = io_utils.get_only_uri_in_dir(schema.uri)
    previous = _previous(statistics, previous_statistics)
    comparison = {}
    if previous is not None:
        parsed = io_utils.SchemaReader().read(source)
        comparison = drift.compare(parsed, statistics.uri, previous.uri, max_drift)
        if "too_few_examples" in comparison:
            logging.info(
                "petunet: DataGate: %s train examples in this span and the previous: too few to "
                "tell drift from chance (%d needed); not compared",
                comparison["too_few_examples"],
                drift.MIN_EXAMPLES,
            )
        elif not allow_drift:
            failures += gates.check_drift(comparison, statistics.span, previous.span)
    if failures:
        raise gates.DataGateFailed(failures)
    io_utils.copy_file(source, os.path.join(gated_schema.uri, SCHEMA_FILE))
    spans = {"span": statistics.span, "previous_span": previous.span if previous else None,
             "examples_uri": examples.uri}  # fmt: skip
    io_utils.write_string_file(  # through TFX's file system: a gs:// URI under Kubeflow
        os.path.join(drift_report.uri, drift.DRIFT_FILE),
        json.dumps({**spans, "features": comparison}, indent=1, sort_keys=True),
    )
    logging.info("DataGate: all gates passed (%d listed, %d skipped)", report["listed"],
                 report["skipped"])  # fmt: skip
