"""SegmentationExampleGen: a FileBasedExampleGen for segmentation data folders.

Used like the stock ImportExampleGen:
`SegmentationExampleGen(input_base=folder, dataset=spec).outputs["examples"]` holds the splits
train, eval (`eval_percent` of the training names by a stable hash) and test, with
`ingest_report.json` and the data set's description `dataset.json` at its root. The layout
(Oxford-IIIT Pet or nnU-Net) comes from the description.
"""

from __future__ import annotations

from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import channel, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter

from components.example_gen import executor, layouts
from components.example_gen.driver import ExampleGenDriver
from components.example_gen.inputs import (
    DATA_FINGERPRINT_KEY,
    DATASET_KEY,
    EVAL_PERCENT_KEY,
    MAX_FILE_MB_KEY,
)
from core.config import DataConfig
from core.dataset import DatasetSpec


def input_config(dataset: DatasetSpec, with_spans: bool = False) -> example_gen_pb2.Input:
    """The three splits and the source each is read from (train and eval share one); with spans,
    under `span-{SPAN}/`, which TFX's driver resolves to the newest span (and records it)."""
    sources = layouts.for_spec(dataset).sources()
    prefix = layouts.SPAN_PATTERN + "/" if with_spans else ""
    return example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name=s, pattern=prefix + p) for s, p in sources.items()]
    )


class SegmentationExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    """FileBasedExampleGen's parameters plus eval_percent, the data set's description and (under
    Kubeflow) the data's fingerprint, so all are part of the cache key."""

    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        EVAL_PERCENT_KEY: ExecutionParameter(type=int),
        DATASET_KEY: ExecutionParameter(type=str),
        MAX_FILE_MB_KEY: ExecutionParameter(type=float),
        DATA_FINGERPRINT_KEY: ExecutionParameter(type=str, optional=True),
    }


class SegmentationExampleGen(FileBasedExampleGen):
    """Data folder -> tf.Example TFRecords (image, mask, name, size; Oxford: species, breed)."""

    SPEC_CLASS = SegmentationExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = ExampleGenDriver

    def __init__(
        self,
        input_base: str,
        dataset: DatasetSpec,
        eval_percent: int,
        max_file_mb: float,
        with_spans: bool = False,
        data_fingerprint=None,
    ):
        """data_fingerprint: under Kubeflow, the DataFingerprint task's output (a placeholder), so
        that the task's cache key covers the data."""
        DataConfig(eval_percent=eval_percent, max_file_mb=max_file_mb)  # checks both, named
        spec = SegmentationExampleGenSpec(
            input_base=input_base,
            input_config=input_config(dataset, with_spans),
            output_config=example_gen_pb2.Output(),  # output splits = input splits
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            eval_percent=eval_percent,
            dataset=dataset.to_json(),
            max_file_mb=float(max_file_mb),
            data_fingerprint=data_fingerprint,
            examples=channel.Channel(type=standard_artifacts.Examples),
        )
        # FileBasedExampleGen.__init__ would build its own spec without eval_percent.
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)
