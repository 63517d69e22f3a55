"""The resolvers of a data root that holds spans: the window Transform and the Trainer read, and
the previous span's statistics the drift gate compares with.

Each run ingests one span (the newest in the data root). The window is this run's examples of
that span and, for each earlier span, the newest examples whose data passed the DataGate in some
run; the drift gate compares this run's statistics with the newest earlier span's that passed.
So a span the gate stopped is never read, even after a later run ingests the same span again
from another folder, and a span removed from the folder (newer than its newest) is not read
either. The local runner only: Kubeflow runs no resolver, so a compiled pipeline ingests the
newest span and trains on it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx import v1 as tfx
from tfx.dsl.components.common import resolver
from tfx.types import artifact_utils

from core import node_ids
from core.config import PipelineConfig


def passed_gate(store, artifact_ids: list[int], gate_type: str) -> set[int]:
    """The artifacts among `artifact_ids` that a DataGate execution read and completed on (or
    was served from the cache for): data whose gate failed, or never ran, is not among them."""
    if not artifact_ids:
        return set()
    events = [e for e in store.get_events_by_artifact_ids(artifact_ids)
              if e.type == metadata_store_pb2.Event.INPUT]  # fmt: skip
    executions = store.get_executions_by_id(list({e.execution_id for e in events}))
    types = {t.id: t.name for t in store.get_execution_types_by_id(
        list({x.type_id for x in executions}))}  # fmt: skip
    done = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)
    passed = {x.id for x in executions
              if types.get(x.type_id) == gate_type and x.last_known_state in done}  # fmt: skip
    return {e.artifact_id for e in events if e.execution_id in passed}


class GatedSpans(resolver.ResolverStrategy):
    """This run's artifact and, for each earlier span, the newest artifact of the same producer
    output (`output_key`) whose data passed the DataGate: `num_spans` spans in all, newest first,
    one artifact each. The earlier ones come from ML Metadata; with `include_latest` off (the
    drift gate's previous statistics) only spans before this run's are returned.

    A span ingested again replaces itself only once it passed its gate, so a run the gate stopped
    leaves nothing later runs read. TFX's SpanRangeStrategy reads the span from custom properties
    only and returns every artifact of a span, a failed gate's included."""

    def __init__(
        self, num_spans: int, gate_type: str, output_key: str, include_latest: bool = True
    ) -> None:
        self._num_spans, self._gate_type, self._output_key = num_spans, gate_type, output_key
        self._include_latest = include_latest

    @staticmethod
    def span_of(artifact: types.Artifact) -> int:
        if artifact.has_custom_property("span"):
            return int(artifact.get_int_custom_property("span"))
        return int(getattr(artifact, "span", 0) or 0)

    def _earlier(self, store, latest: types.Artifact) -> list[types.Artifact]:
        """Every artifact the same producer output wrote, as TFX artifacts."""
        found = store.get_artifacts_by_type(latest.artifact_type.name)
        events = store.get_events_by_artifact_ids([a.id for a in found])
        produced = {
            e.artifact_id for e in events
            if e.type == metadata_store_pb2.Event.OUTPUT
            and any(step.key == self._output_key for step in e.path.steps)
        }  # fmt: skip
        return [
            artifact_utils.deserialize_artifact(latest.artifact_type, a)
            for a in found
            if a.id in produced and a.id != latest.id
        ]

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]):
        result = {}
        for key, given in input_dict.items():
            latest = list(given)[-1:]
            if not latest:
                result[key] = []
                continue
            current = self.span_of(latest[0])
            candidates = [a for a in self._earlier(store, latest[0]) if self.span_of(a) < current]
            passed = passed_gate(store, [a.id for a in candidates], self._gate_type)
            newest: dict[int, types.Artifact] = {}
            for artifact in candidates:
                span = self.span_of(artifact)
                if artifact.id in passed and (span not in newest or artifact.id > newest[span].id):
                    newest[span] = artifact
            head = latest if self._include_latest else []
            earlier = sorted(newest, reverse=True)[: self._num_spans - len(head)]
            result[key] = [*head, *(newest[span] for span in earlier)]
        return result


@dataclass(frozen=True)
class SpanResolvers:
    window: Any  # channel: the newest span_window Examples artifacts
    previous_statistics: Any  # channel: the statistics of the span before the newest
    nodes: tuple[Any, ...]


def resolvers(
    config: PipelineConfig, example_gen: Any, statistics_gen: Any, gate_type: str
) -> SpanResolvers:
    """The window of examples (this run's span and the newest earlier ones that passed their
    gate) and the statistics of the newest earlier span that passed, for the drift gate."""
    window = tfx.dsl.Resolver(
        strategy_class=GatedSpans,
        config={
            "num_spans": config.data.span_window,
            "gate_type": gate_type,
            "output_key": "examples",
        },  # fmt: skip
        examples=example_gen.outputs["examples"],
    ).with_id(node_ids.SPAN_WINDOW)
    statistics = tfx.dsl.Resolver(
        strategy_class=GatedSpans,
        config={
            "num_spans": 1,
            "gate_type": gate_type,
            "output_key": "statistics",
            "include_latest": False,
        },  # fmt: skip
        statistics=statistics_gen.outputs["statistics"],
    ).with_id(node_ids.PREVIOUS_STATISTICS)
    return SpanResolvers(
        window.outputs["examples"], statistics.outputs["statistics"], (window, statistics)
    )
