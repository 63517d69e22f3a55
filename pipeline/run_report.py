"""What the last pipeline run did, read back from ML Metadata: per component, its execution state
(COMPLETE, CACHED, FAILED) and output artifacts, plus the Evaluator's metrics and the push.

The local runner prints this at the end; the end-to-end tests assert on it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.example_gen.executor import DATASET_FILE
from components.pusher.executor import ALREADY_SERVING_KEY
from core import node_ids
from core.dataset import DatasetSpec

_OUTPUT_EVENTS = (
    metadata_store_pb2.Event.OUTPUT,
    metadata_store_pb2.Event.DECLARED_OUTPUT,
    metadata_store_pb2.Event.PENDING_OUTPUT,
    metadata_store_pb2.Event.INTERNAL_OUTPUT,  # what a resolver node resolved
)


@dataclass
class NodeRun:
    state: str
    outputs: dict[str, list[metadata_store_pb2.Artifact]] = field(default_factory=dict)

    def artifact(self, key: str) -> metadata_store_pb2.Artifact | None:
        found = self.outputs.get(key) or []
        return found[0] if found else None


def _store(metadata_path: str) -> metadata_store.MetadataStore:
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(connection)


def _event_key(event: metadata_store_pb2.Event) -> str:
    return next((step.key for step in event.path.steps if step.HasField("key")), "")


def last_run(
    metadata_path: str, pipeline_name: str, since: float | None = None
) -> dict[str, NodeRun]:
    """node id -> NodeRun for the most recent pipeline run recorded in `metadata_path`.

    since: epoch seconds; only a run that started then or later counts (a run's own summary).
    """
    if not os.path.exists(metadata_path):
        raise FileNotFoundError(f"no pipeline metadata at {metadata_path}")
    store = _store(metadata_path)
    runs = store.get_contexts_by_type("pipeline_run")
    runs = [c for c in runs if c.name.startswith(pipeline_name)] or runs
    if since is not None:
        runs = [c for c in runs if c.create_time_since_epoch >= int(since * 1000)]
    if not runs:
        raise ValueError(f"no run of pipeline {pipeline_name!r} in {metadata_path}")
    run = max(runs, key=lambda c: (c.create_time_since_epoch, c.id))
    executions = store.get_executions_by_context(run.id)
    state_names = metadata_store_pb2.Execution.State.Name
    nodes: dict[str, NodeRun] = {}
    for execution in sorted(executions, key=lambda e: e.id):
        node_contexts = [
            c for c in store.get_contexts_by_execution(execution.id) if c.type == "node"
        ]
        node_id = node_contexts[0].name.split(".", 1)[-1] if node_contexts else str(execution.id)
        node = NodeRun(state_names(execution.last_known_state))
        events = store.get_events_by_execution_ids([execution.id])
        outputs = [e for e in events if e.type in _OUTPUT_EVENTS]
        artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in outputs])}
        for event in outputs:
            node.outputs.setdefault(_event_key(event), []).append(artifacts[event.artifact_id])
        nodes[node_id] = node
    return nodes


def custom_property(artifact: metadata_store_pb2.Artifact, name: str) -> Any:
    value = artifact.custom_properties.get(name)
    if value is None:
        return None
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _slice_name(slice_key, dataset: DatasetSpec | None) -> str:
    """'' for the overall slice, else e.g. 'species: cat' (values named by the data set's
    description) or 'object_size: small'."""
    parts = []
    for single in slice_key.single_slice_keys:
        kind = single.WhichOneof("kind")
        value = getattr(single, kind)
        value = value.decode() if isinstance(value, bytes) else value
        if dataset is not None and isinstance(value, int):
            value = dataset.slice_value_name(single.column, value) or value
        parts.append(f"{single.column}: {value}")
    return ", ".join(parts)


def slice_metrics(
    evaluation_uri: str, model: str = "candidate", dataset: DatasetSpec | None = None
) -> dict[str, dict[str, float]]:
    """Metrics of one model ("candidate" or "baseline") per slice ('' = overall) of a
    ModelEvaluation artifact; without a baseline, TFMA names no model and all is the candidate's."""
    import tensorflow_model_analysis as tfma

    slices: dict[str, dict[str, float]] = {}
    for per_slice in tfma.load_metrics(evaluation_uri):
        metrics = slices.setdefault(_slice_name(per_slice.slice_key, dataset), {})
        for key_and_value in per_slice.metric_keys_and_values:
            key = key_and_value.key
            if key.is_diff or (key.model_name or "candidate") != model:
                continue
            value = key_and_value.value
            if value.HasField("double_value"):
                metrics[key.name] = value.double_value.value
    return slices


def examples_dataset(nodes: dict[str, NodeRun]) -> DatasetSpec | None:
    """The description the ExampleGen wrote beside its examples (None if it did not run)."""
    examples = nodes.get(node_ids.EXAMPLE_GEN) and nodes[node_ids.EXAMPLE_GEN].artifact("examples")
    path = examples and os.path.join(examples.uri, DATASET_FILE)
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return DatasetSpec.from_json(f.read())


def summarize(metadata_path: str, pipeline_name: str, since: float | None = None) -> dict[str, Any]:
    """The facts a user wants after a run: states, metrics, blessing, pushed directory, and the
    model the evaluation compared against (the baseline)."""
    nodes = last_run(metadata_path, pipeline_name, since)
    summary: dict[str, Any] = {"states": {k: v.state for k, v in nodes.items()}}
    dataset = examples_dataset(nodes)
    for node_id, key in ((node_ids.EVALUATOR, "eval"), (node_ids.TEST_EVALUATOR, "test")):
        evaluation = nodes.get(node_id) and nodes[node_id].artifact("evaluation")
        if evaluation is not None:
            slices = slice_metrics(evaluation.uri, dataset=dataset)
            summary[f"{key}_metrics"] = slices.pop("", {})
            summary[f"{key}_slices"] = slices
            summary[f"{key}_baseline_metrics"] = slice_metrics(evaluation.uri, "baseline").get("")
    blessing = nodes.get(node_ids.EVALUATOR) and nodes[node_ids.EVALUATOR].artifact("blessing")
    summary["blessed"] = bool(blessing and custom_property(blessing, "blessed"))
    pushed = nodes.get(node_ids.PUSHER) and nodes[node_ids.PUSHER].artifact("pushed_model")
    summary["pushed"] = bool(pushed and custom_property(pushed, "pushed"))
    summary["pushed_to"] = (pushed and custom_property(pushed, "pushed_destination")) or None
    summary["already_serving"] = (pushed and custom_property(pushed, ALREADY_SERVING_KEY)) or None
    trained = nodes.get(node_ids.TRAINER) and nodes[node_ids.TRAINER].artifact("model")
    summary["model_id"] = trained.id if trained else None
    # The resolver's output, not the Evaluator's input: ML Metadata keeps one event per artifact,
    # so when the baseline is the model itself the Evaluator's "baseline_model" event is missing.
    baseline = nodes.get(node_ids.RESOLVER) and nodes[node_ids.RESOLVER].artifact("model")
    summary["baseline_model_id"] = baseline.id if baseline else None
    summary["training"] = training_facts(nodes)
    summary["spans"] = span_facts(nodes)
    return summary


def training_facts(nodes: dict[str, NodeRun]) -> dict[str, Any]:
    """How the model was trained (the Trainer's summary.json): replicas, workers, steps, the
    model a warm start began from."""
    run = nodes.get(node_ids.TRAINER) and nodes[node_ids.TRAINER].artifact("model_run")
    path = run and os.path.join(run.uri, "summary.json")
    if not path or not os.path.exists(path):
        return {}
    with open(path) as f:
        facts = json.load(f)
    keys = ("device", "replicas", "workers", "global_batch", "steps", "warm_start_from")
    return {key: facts.get(key) for key in keys}


def span_facts(nodes: dict[str, NodeRun]) -> dict[str, Any] | None:
    """With spans: the span ingested, the spans trained on, and the drift comparison."""
    window = nodes.get(node_ids.SPAN_WINDOW)
    if window is None:
        return None
    examples = nodes.get(node_ids.EXAMPLE_GEN) and nodes[node_ids.EXAMPLE_GEN].artifact("examples")
    facts: dict[str, Any] = {
        "ingested": custom_property(examples, "span") if examples else None,
        "trained_on": sorted(
            custom_property(a, "span") for a in window.outputs.get("examples", [])
        ),
        "trained_on_uris": [a.uri for a in window.outputs.get("examples", [])],
    }
    gate = nodes.get("DataGate") and nodes["DataGate"].artifact("drift_report")
    path = gate and os.path.join(gate.uri, "drift.json")
    if path and os.path.exists(path):
        with open(path) as f:
            facts["drift"] = json.load(f)
    return facts
