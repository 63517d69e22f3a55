"""PetExampleGen: a FileBasedExampleGen for the Oxford-IIIT Pet folder layout.

Used like the stock ImportExampleGen: `PetExampleGen(input_base=folder).outputs["examples"]`
holds the splits train, eval (from annotations/trainval.txt, `eval_percent` of the names by a
stable hash) and test (from annotations/test.txt), and `ingest_report.json` at its root.
"""

from __future__ import annotations

from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import channel, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter

from components.example_gen import executor, oxford
from components.example_gen.driver import PetExampleGenDriver
from components.example_gen.executor import EVAL_PERCENT_KEY
from models.contracts import EVAL, TEST, TRAIN


def input_config() -> example_gen_pb2.Input:
    """The three splits and the list file each is read from (train and eval share trainval)."""
    return example_gen_pb2.Input(
        splits=[
            example_gen_pb2.Input.Split(name=TRAIN, pattern=oxford.TRAINVAL_LIST),
            example_gen_pb2.Input.Split(name=EVAL, pattern=oxford.TRAINVAL_LIST),
            example_gen_pb2.Input.Split(name=TEST, pattern=oxford.TEST_LIST),
        ]
    )


class PetExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    """FileBasedExampleGen's parameters plus eval_percent, so it is part of the cache key."""

    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        EVAL_PERCENT_KEY: ExecutionParameter(type=int),
    }


class PetExampleGen(FileBasedExampleGen):
    """Oxford-IIIT Pet folder -> tf.Example TFRecords (image, mask, name, size, species, breed)."""

    SPEC_CLASS = PetExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = PetExampleGenDriver

    def __init__(self, input_base: str, eval_percent: int = executor.DEFAULT_EVAL_PERCENT):
        if not 0 < eval_percent < 100:
            raise ValueError(f"eval_percent must be in 1..99, got {eval_percent}")
        spec = PetExampleGenSpec(
            input_base=input_base,
            input_config=input_config(),
            output_config=example_gen_pb2.Output(),  # output splits = input splits
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            eval_percent=eval_percent,
            examples=channel.Channel(type=standard_artifacts.Examples),
        )
        # FileBasedExampleGen.__init__ would build its own spec without eval_percent.
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)
