"""Beam executor of the ExampleGen: a data folder -> train/eval/test tf.Example TFRecords.

The stock ExampleGen maps one input split to one output split or hashes a single input into
buckets; here train and eval both come from one source (Oxford's `trainval.txt`, nnU-Net's
imagesTr/) by a stable hash of the name, and test from its own source (or from the same one by
hash, when the data set has no labelled test set), so `GenerateExamplesByBeam` is overridden, as
TFX suggests for custom split logic. The work streams: every listed row is a small element keyed
by name (the GroupByKey spreads the rows over workers and catches names listed twice), and each
worker reads, checks and encodes one example at a time. The layout (components/example_gen/
layouts.py) says where rows come from and how a case is read; the data set's description says
what a valid file holds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import tensorflow as tf
from absl import logging
from tfx import types
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.types import artifact_utils, standard_component_specs

from components import content_key
from components.example_gen import layouts, report
from components.example_gen.images import Ingested
from components.example_gen.inputs import (
    EVAL_PERCENT_KEY,
    MAX_FILE_MB_KEY,
    SPAN_PROPERTY,
    dataset_of,
    is_resolved,
    resolve_input,
    resolved_root,
)
from components.example_gen.layout import MalformedRow, Row, split_of
from core import contracts
from core.contracts import EVAL, TEST, TRAIN
from core.dataset import DatasetSpec

DATASET_FILE = "dataset.json"
_REPORT_PATH_KEY = "_ingest_report_path"  # private exec property: where the pipeline writes it
_OUTCOMES = "outcomes"
_METRICS_NAMESPACE = "ExampleGen"


def to_example(item: Ingested, class_names: tuple[str, ...] = ()) -> tf.train.Example:
    """The raw-feature contract of core/contracts.py."""

    def _bytes(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def _int(value: int) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    def _float(value: float) -> tf.train.Feature:
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))

    feature = {
        contracts.IMAGE_KEY: _bytes(item.image),
        contracts.MASK_KEY: _bytes(item.mask),
        contracts.NAME_KEY: _bytes(item.name.encode("utf-8")),
        contracts.HEIGHT_KEY: _int(item.height),
        contracts.WIDTH_KEY: _int(item.width),
    }
    extra = {contracts.SPECIES_KEY: item.species, contracts.BREED_ID_KEY: item.breed_id}
    for key, value in extra.items():
        if value is not None:  # per-data-set fields (Oxford)
            feature[key] = _int(value)
    if item.object_size is not None:
        feature[contracts.OBJECT_SIZE_KEY] = _bytes(item.object_size.encode("utf-8"))
    if item.mean_intensity is not None:
        feature[contracts.MEAN_INTENSITY_KEY] = _float(item.mean_intensity)
    for name, share in zip(class_names, item.class_shares, strict=True):
        feature[contracts.class_share_name(name)] = _float(share)
    return tf.train.Example(features=tf.train.Features(feature=feature))


class _IngestFn(beam.DoFn):
    """(name, rows) -> (split, serialized tf.Example) and one report Outcome per listed row."""

    def __init__(
        self,
        root: str,
        eval_percent: int,
        shared: str,
        test_from_train: bool,
        spec_json: str,
        max_file_mb: float,
    ) -> None:
        self._root = root
        self._max_file_mb = max_file_mb
        self._eval_percent = eval_percent
        self._shared_list = shared  # the source train and eval are drawn from
        self._test_from_train = test_from_train
        self._spec_json = spec_json
        self._spec: DatasetSpec | None = None
        self._ingested = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, "ingested")
        self._skipped = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, "skipped")

    def setup(self) -> None:
        self._spec = DatasetSpec.from_json(self._spec_json)
        self._layout = layouts.for_spec(self._spec)

    def _split(self, name: str, list_file: str) -> str:
        if list_file == self._shared_list:
            return split_of(name, self._eval_percent, self._test_from_train)
        return TEST

    def _outcome(
        self, split: str, name: str, reason: str | None, note: str | None = None
    ) -> beam.pvalue.TaggedOutput:
        (self._skipped if reason else self._ingested).inc()
        return beam.pvalue.TaggedOutput(_OUTCOMES, report.Outcome(split, name, reason, note))

    def process(self, element: tuple[str, Iterable[Row]]) -> Iterator[Any]:
        name, rows = element
        rows = sorted(Row(*row) for row in rows)
        if len({row.text for row in rows}) > 1:  # no way to tell which row is right
            listed = "; ".join(f"{row.text!r} in {row.source}" for row in rows)
            for row in rows:
                reason = f"listed {len(rows)} times with different ids ({listed}); none ingested"
                yield self._outcome(self._split(name, row.source), name, reason)
            return
        first, *others = rows  # the same row more than once: ingested once, from the first list
        for row in others:
            if row.source == first.source:
                reason = f"listed again in {row.source}; ingested once"
            else:
                reason = (
                    f"listed in both {first.source} and {row.source}; ingested from {first.source}"
                )
            yield self._outcome(self._split(name, row.source), name, reason)
        split = self._split(name, first.source)
        try:
            entry = self._layout.parse(first)
        except MalformedRow as e:
            yield self._outcome(split, name, f"{e} in {first.source}")
            return
        try:
            result = self._layout.ingest(self._root, self._spec, entry, self._max_file_mb)
        except Exception as error:  # one bad file must never stop the others
            yield self._outcome(split, name, f"{type(error).__name__}: {error}")
            return
        if isinstance(result, Ingested):
            yield split, to_example(result, self._spec.class_names).SerializeToString()
            yield self._outcome(split, name, None, result.reencoded)
        else:
            yield self._outcome(split, name, result.reason)


class Executor(BaseExampleGenExecutor):
    """Validates the folder, runs the Beam pipeline, then checks and logs the ingest report."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        raise NotImplementedError(
            "the ExampleGen builds its splits in GenerateExamplesByBeam: train and eval come from "
            "one source, so there is no per-input-split transform"
        )

    def GenerateExamplesByBeam(
        self, pipeline: beam.Pipeline, exec_properties: dict[str, Any]
    ) -> dict[str, beam.pvalue.PCollection]:
        root, sources = resolved_root(exec_properties)
        eval_percent = int(exec_properties[EVAL_PERCENT_KEY])
        spec = dataset_of(exec_properties)
        layout = layouts.for_spec(spec)
        own_test = layout.has_own_test(root, spec)
        read = [sources[TRAIN], sources[TEST]] if own_test else [sources[TRAIN]]
        rows = layout.rows(pipeline, root, list(dict.fromkeys(read)), spec)
        max_mb = float(exec_properties[MAX_FILE_MB_KEY])
        ingest = _IngestFn(root, eval_percent, sources[TRAIN], not own_test, spec.to_json(), max_mb)
        results = (
            rows
            | "AllRows" >> beam.Flatten()
            | "GroupByName" >> beam.GroupByKey()
            | "Ingest" >> beam.ParDo(ingest).with_outputs(_OUTCOMES, main="examples")
        )
        report_path = exec_properties.get(_REPORT_PATH_KEY)
        if report_path:
            _ = (
                results[_OUTCOMES]
                | "Report" >> beam.CombineGlobally(report.ReportFn((TRAIN, EVAL, TEST)))
                | "ReportJson" >> beam.Map(report.to_json)
                | "WriteReport"
                >> beam.io.WriteToText(report_path, shard_name_template="", num_shards=1)
            )
        order = (TRAIN, EVAL, TEST)
        parts = results.examples | "SplitBySplit" >> beam.Partition(
            lambda kv, _: order.index(kv[0]), len(order)
        )
        return {
            split: parts[i] | f"Serialized[{split}]" >> beam.Values()
            for i, split in enumerate(order)
        }

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        if not is_resolved(exec_properties):  # under Kubeflow no driver ran before
            exec_properties = resolve_input(exec_properties)
        root, sources = resolved_root(exec_properties)
        spec = dataset_of(exec_properties)
        layouts.for_spec(spec).check(root, list(dict.fromkeys(sources.values())), spec)
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY]
        )
        report_path = os.path.join(examples.uri, report.REPORT_FILE)
        tf.io.gfile.makedirs(examples.uri)  # a Kubeflow launcher makes only its parent
        with tf.io.gfile.GFile(os.path.join(examples.uri, DATASET_FILE), "w") as f:
            f.write(json.dumps(spec.to_dict(), indent=1, sort_keys=True))
        super().Do(input_dict, output_dict, {**exec_properties, _REPORT_PATH_KEY: report_path})
        content_key.mark(examples, content_key.content_key([], exec_properties))
        # The resolution records the span as a custom property; StatisticsGen copies the artifact
        # property to its statistics, which the drift gate pairs by span.
        examples.span = int(exec_properties.get(SPAN_PROPERTY) or 0)
        with tf.io.gfile.GFile(report_path) as f:
            ingest_report = json.load(f)
        logging.info(report.summary(ingest_report, report_path))
        report.check(ingest_report, report_path)
