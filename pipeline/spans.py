"""The resolvers of a data root that holds spans: the window Transform and the Trainer read, and
the previous span's statistics the drift gate compares with.

Span-range resolution over the ExampleGen's artifacts in ML Metadata: each run ingests one span
(the newest), and the window takes the newest `--span-window` spans of all runs so far, so
ingestion costs what the new data costs. Both resolvers run after this run's ExampleGen and
StatisticsGen, so the window includes the new span and the statistics are the previous span's.
The local runner only: KFP v2 compiles no resolver strategy but TFX's LatestArtifact and
LatestBlessedModel, so a compiled pipeline ingests the newest span and trains on it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfx import types
from tfx import v1 as tfx
from tfx.dsl.components.common import resolver

from components.example_gen import layouts
from models import node_ids
from models.config import PipelineConfig


class NewestSpans(resolver.ResolverStrategy):
    """The artifacts of the newest `num_spans` spans after skipping the newest `skip`, one per
    span (the last made: a span ingested again replaces itself). TFX's SpanRangeStrategy reads
    the span from custom properties only (statistics keep it as a property) and returns every
    artifact of a span, so a span ingested twice would be read twice."""

    def __init__(self, num_spans: int, skip: int = 0, data_root: str = "") -> None:
        self._num_spans, self._skip, self._data_root = num_spans, skip, data_root

    @staticmethod
    def span_of(artifact: types.Artifact) -> int:
        if artifact.has_custom_property("span"):
            return int(artifact.get_int_custom_property("span"))
        return int(getattr(artifact, "span", 0) or 0)

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]):
        """Spans newer than the data root's newest are left out: one an earlier run ingested and
        that has since been removed from the folder is not trained on again."""
        present = layouts.spans(self._data_root) if self._data_root else []
        cap = present[-1] if present else None
        result = {}
        for key, artifacts in input_dict.items():
            newest: dict[int, types.Artifact] = {}
            for artifact in artifacts:
                span = self.span_of(artifact)
                if cap is not None and span > cap:
                    continue
                if span not in newest or artifact.id > newest[span].id:
                    newest[span] = artifact
            chosen = sorted(newest, reverse=True)[self._skip : self._skip + self._num_spans]
            result[key] = [newest[span] for span in chosen]
        return result


@dataclass(frozen=True)
class SpanResolvers:
    window: Any  # channel: the newest span_window Examples artifacts
    previous_statistics: Any  # channel: the statistics of the span before the newest
    nodes: tuple[Any, ...]


def resolvers(
    config: PipelineConfig, data_root: str, example_gen: Any, statistics_gen: Any
) -> SpanResolvers:
    window = tfx.dsl.Resolver(
        strategy_class=NewestSpans,
        config={"num_spans": config.data.span_window, "data_root": data_root},
        examples=tfx.dsl.Channel(
            type=tfx.types.standard_artifacts.Examples,
            producer_component_id=example_gen.id,
            output_key="examples",
        ),
    ).with_id(node_ids.SPAN_WINDOW)
    window.add_upstream_node(example_gen)
    statistics = tfx.dsl.Resolver(
        strategy_class=NewestSpans,
        config={"num_spans": 1, "skip": 1, "data_root": data_root},  # the one before this run's
        statistics=tfx.dsl.Channel(
            type=tfx.types.standard_artifacts.ExampleStatistics,
            producer_component_id=statistics_gen.id,
            output_key="statistics",
        ),
    ).with_id(node_ids.PREVIOUS_STATISTICS)
    statistics.add_upstream_node(statistics_gen)
    return SpanResolvers(
        window.outputs["examples"], statistics.outputs["statistics"], (window, statistics)
    )
