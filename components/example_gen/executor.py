"""Beam executor of PetExampleGen: Oxford list files -> train/eval/test tf.Example TFRecords.

The stock ExampleGen maps one input split to one output split or hashes a single input into
buckets; here train and eval both come from `trainval.txt` (by a stable hash of the name) and
test from `test.txt`, so `GenerateExamplesByBeam` is overridden, as TFX suggests for custom
split logic. The work streams: the list files are read by Beam, every row is a small element
keyed by name (the GroupByKey spreads the rows over workers and catches names listed twice), and
each worker reads, checks and encodes one image at a time.
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
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.example_gen import oxford, report
from components.example_gen.files import join
from components.example_gen.oxford import Ingested, MalformedLine
from models import contracts
from models.contracts import EVAL, TEST, TRAIN

EVAL_PERCENT_KEY = "eval_percent"
DEFAULT_EVAL_PERCENT = 20
_REPORT_PATH_KEY = "_ingest_report_path"  # private exec property: where the pipeline writes it
_OUTCOMES = "outcomes"
_METRICS_NAMESPACE = "PetExampleGen"

# (list order, normalised line, list file) per row: equal rows are ingested once, first list first
Row = tuple[int, str, str]


def list_files_by_split(input_config: example_gen_pb2.Input) -> dict[str, str]:
    """split name -> list file; train and eval must share one (trainval), test has its own."""
    patterns = {split.name: split.pattern for split in input_config.splits}
    if set(patterns) != {TRAIN, EVAL, TEST}:
        got = sorted(patterns)
        raise ValueError(f"PetExampleGen needs input splits train, eval, test; got {got}")
    if patterns[TRAIN] != patterns[EVAL]:
        raise ValueError("PetExampleGen: train and eval must read the same list file (trainval)")
    return patterns


def to_example(item: Ingested) -> tf.train.Example:
    """The raw-feature contract of models/contracts.py."""

    def _bytes(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def _int(value: int) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    return tf.train.Example(
        features=tf.train.Features(
            feature={
                contracts.IMAGE_KEY: _bytes(item.image),
                contracts.MASK_KEY: _bytes(item.mask),
                contracts.NAME_KEY: _bytes(item.name.encode("utf-8")),
                contracts.HEIGHT_KEY: _int(item.height),
                contracts.WIDTH_KEY: _int(item.width),
                contracts.SPECIES_KEY: _int(item.species),
                contracts.BREED_ID_KEY: _int(item.breed_id),
            }
        )
    )


def _keyed_rows(line: str, order: int, list_file: str) -> Iterator[tuple[str, Row]]:
    text = " ".join(line.split())  # whitespace-normalised, so equal rows compare equal
    if text and not text.startswith("#"):
        yield text.split()[0], (order, text, list_file)


class _IngestFn(beam.DoFn):
    """(name, rows) -> (split, serialized tf.Example) and one report Outcome per listed row."""

    def __init__(self, root: str, eval_percent: int, shared_list: str) -> None:
        self._root = root
        self._eval_percent = eval_percent
        self._shared_list = shared_list  # the list file train and eval are drawn from
        self._ingested = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, "ingested")
        self._skipped = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, "skipped")

    def _split(self, name: str, list_file: str) -> str:
        if list_file == self._shared_list:
            return oxford.trainval_split(name, self._eval_percent)
        return TEST

    def _outcome(
        self, split: str, name: str, reason: str | None, note: str | None = None
    ) -> beam.pvalue.TaggedOutput:
        (self._skipped if reason else self._ingested).inc()
        return beam.pvalue.TaggedOutput(_OUTCOMES, report.Outcome(split, name, reason, note))

    def process(self, element: tuple[str, Iterable[Row]]) -> Iterator[Any]:
        name, rows = element
        rows = sorted(rows)
        if len({text for _, text, _ in rows}) > 1:  # no way to tell which row is right
            listed = "; ".join(f"{text!r} in {list_file}" for _, text, list_file in rows)
            for _, _, list_file in rows:
                reason = f"listed {len(rows)} times with different ids ({listed}); none ingested"
                yield self._outcome(self._split(name, list_file), name, reason)
            return
        first, *others = rows  # the same row more than once: ingested once, from the first list
        for _, _, list_file in others:
            if list_file == first[2]:
                reason = f"listed again in {list_file}; ingested once"
            else:
                reason = f"listed in both {first[2]} and {list_file}; ingested from {first[2]}"
            yield self._outcome(self._split(name, list_file), name, reason)
        _, text, list_file = first
        split = self._split(name, list_file)
        try:
            entry = oxford.parse_list_line(text)
        except MalformedLine as e:
            yield self._outcome(split, name, f"{e} in {list_file}")
            return
        assert entry is not None  # headers and blank lines were dropped when keying
        result = oxford.ingest_entry(self._root, entry)
        if isinstance(result, Ingested):
            yield split, to_example(result).SerializeToString()
            yield self._outcome(split, name, None, result.reencoded)
        else:
            yield self._outcome(split, name, result.reason)


class Executor(BaseExampleGenExecutor):
    """Validates the folder, runs the Beam pipeline, then checks and logs the ingest report."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        raise NotImplementedError(
            "PetExampleGen builds its splits in GenerateExamplesByBeam: train and eval come from "
            "one list file, so there is no per-input-split transform"
        )

    def GenerateExamplesByBeam(
        self, pipeline: beam.Pipeline, exec_properties: dict[str, Any]
    ) -> dict[str, beam.pvalue.PCollection]:
        root = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        eval_percent = exec_properties.get(EVAL_PERCENT_KEY)
        eval_percent = DEFAULT_EVAL_PERCENT if eval_percent is None else int(eval_percent)
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
        )
        lists = list_files_by_split(input_config)
        shared, test_list = lists[TRAIN], lists[TEST]

        rows = [
            pipeline
            | f"ReadList[{i}]" >> beam.io.ReadFromText(join(root, list_file))
            | f"KeyByName[{i}]" >> beam.FlatMap(_keyed_rows, i, list_file)
            for i, list_file in enumerate(dict.fromkeys((shared, test_list)))
        ]
        results = (
            rows
            | "AllRows" >> beam.Flatten()
            | "GroupByName" >> beam.GroupByKey()
            | "Ingest"
            >> beam.ParDo(_IngestFn(root, eval_percent, shared)).with_outputs(
                _OUTCOMES, main="examples"
            )
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
        root = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
        )
        lists = list_files_by_split(input_config)
        oxford.check_layout(root, dict.fromkeys(lists.values()))
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY]
        )
        report_path = os.path.join(examples.uri, report.REPORT_FILE)
        super().Do(input_dict, output_dict, {**exec_properties, _REPORT_PATH_KEY: report_path})
        with tf.io.gfile.GFile(report_path) as f:
            ingest_report = json.load(f)
        logging.info(report.summary(ingest_report, report_path))
        report.check(ingest_report, report_path)
