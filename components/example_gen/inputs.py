"""What the ExampleGen reads: its exec properties, the folder and split sources they name, and
the input's resolution (the newest span, and a fingerprint that covers the images and masks).

TFX's FileBasedDriver resolves the span and fingerprints only the files the split patterns match
(the list files, or the image folder): a mask replaced in place would leave the fingerprint, and
so the cache, as it was. `resolve_input` adds the layout's image and mask files. The local runner
calls it from the ExampleGen's driver; under Kubeflow, where no driver runs, the executor calls it
and the DataFingerprint task puts its fingerprint in the ExampleGen's cache key.
"""

from __future__ import annotations

from typing import Any

from tfx.components.example_gen import driver, utils
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import io_utils, proto_utils

from components.example_gen import files, layouts
from core.contracts import EVAL, TEST, TRAIN
from core.dataset import DatasetSpec

EVAL_PERCENT_KEY = "eval_percent"
DATASET_KEY = "dataset"  # the data set's description (JSON), written next to the examples too
MAX_FILE_MB_KEY = "max_file_mb"  # the largest file read (MB); a guard against runaway reads
DATA_FINGERPRINT_KEY = "data_fingerprint"  # Kubeflow: the DataFingerprint task's answer
SPAN_PROPERTY = utils.SPAN_PROPERTY_NAME  # what the resolution chose ({SPAN} in the patterns)
FINGERPRINT_PROPERTY = utils.FINGERPRINT_PROPERTY_NAME


def sources_by_split(input_config: example_gen_pb2.Input) -> dict[str, str]:
    """split name -> source (list file or folder); train and eval must share one."""
    patterns = {split.name: split.pattern for split in input_config.splits}
    if set(patterns) != {TRAIN, EVAL, TEST}:
        got = sorted(patterns)
        raise ValueError(f"the ExampleGen needs input splits train, eval, test; got {got}")
    if patterns[TRAIN] != patterns[EVAL]:
        raise ValueError("the ExampleGen: train and eval must read the same source")
    return patterns


def resolved_root(exec_properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """(the folder this run reads, the source of each split in it): with spans, the newest span's
    folder, which the resolution put in the patterns (`span-2/annotations/trainval.txt`)."""
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
    )
    sources = sources_by_split(input_config)
    root = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    heads = {pattern.split("/", 1)[0] for pattern in sources.values()}
    if len(heads) == 1 and next(iter(heads)).startswith(layouts.SPAN_PREFIX):
        head = next(iter(heads))
        root = files.join(root, head)
        sources = {split: pattern[len(head) + 1 :] for split, pattern in sources.items()}
    return root, sources


def dataset_of(exec_properties: dict[str, Any]) -> DatasetSpec:
    return DatasetSpec.from_json(exec_properties[DATASET_KEY])


def is_resolved(exec_properties: dict[str, Any]) -> bool:
    """Whether a driver has already resolved the span and the fingerprint."""
    return FINGERPRINT_PROPERTY in exec_properties


def resolve_input(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """The exec properties with the span resolved in the patterns, and the span, the version and
    the fingerprint (the split sources' and the images' and masks') added, as TFX's driver does."""
    resolved = driver.FileBasedDriver(None).resolve_exec_properties(
        dict(exec_properties), None, None
    )
    root, _ = resolved_root(resolved)  # with spans: the newest span's folder
    extra = [
        io_utils.generate_fingerprint(name, files.join(root, pattern))
        for name, pattern in layouts.for_spec(dataset_of(resolved)).fingerprinted()
    ]
    resolved[FINGERPRINT_PROPERTY] = "\n".join([resolved[FINGERPRINT_PROPERTY], *extra])
    return resolved
