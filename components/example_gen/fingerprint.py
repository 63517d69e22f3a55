"""DataFingerprint: the data folder's fingerprint as a value, for the ExampleGen's cache key under
Kubeflow Pipelines and Vertex AI.

Their cache key for a task is its inputs and parameters; no driver of ours runs before it, and
open-source Kubeflow skips TFX's pre-cache-check hook. This task runs uncached before the
ExampleGen and hands it the fingerprint (components/example_gen/inputs.py: the split sources,
images and masks of the newest span) as a parameter, so an image or mask replaced in place
reruns the ExampleGen and unchanged data reuses its examples.
"""

from absl import logging
from tfx.types import standard_component_specs
from tfx.v1.dsl.components import OutputDict, Parameter, component

from components.example_gen.inputs import DATASET_KEY, FINGERPRINT_PROPERTY, resolve_input


@component
def DataFingerprint(  # a component: named like a class
    input_base: Parameter[str],
    input_config: Parameter[str],
    dataset: Parameter[str],
) -> OutputDict(fingerprint=str):
    """The fingerprint the ExampleGen's resolution computes for the same exec properties."""
    resolved = resolve_input(
        {
            standard_component_specs.INPUT_BASE_KEY: input_base,
            standard_component_specs.INPUT_CONFIG_KEY: input_config,
            DATASET_KEY: dataset,
        }
    )
    fingerprint = resolved[FINGERPRINT_PROPERTY]
    logging.info("DataFingerprint: %s", fingerprint.replace("\n", "; "))
    return {"fingerprint": fingerprint}
