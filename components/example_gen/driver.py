"""Driver of the ExampleGen: the input fingerprint also covers the images and masks.

The stock driver fingerprints only the files its split patterns match (the list files, or the
image folder); a mask replaced in place would then leave the fingerprint (and the pipeline cache) as
it was and the old examples would be reused.
"""

from __future__ import annotations

from typing import Any

from tfx.components.example_gen import driver, utils
from tfx.orchestration import data_types
from tfx.utils import io_utils

from components.example_gen import layouts
from components.example_gen.executor import dataset_of, resolved_root
from components.example_gen.files import join


class ExampleGenDriver(driver.FileBasedDriver):
    def resolve_exec_properties(
        self,
        exec_properties: dict[str, Any],
        pipeline_info: data_types.PipelineInfo,
        component_info: data_types.ComponentInfo,
    ) -> dict[str, Any]:
        exec_properties = super().resolve_exec_properties(
            exec_properties, pipeline_info, component_info
        )
        root, _ = resolved_root(exec_properties)  # with spans: the newest span's folder
        extra = [
            io_utils.generate_fingerprint(name, join(root, pattern))
            for name, pattern in layouts.for_spec(dataset_of(exec_properties)).fingerprinted()
        ]
        key = utils.FINGERPRINT_PROPERTY_NAME
        exec_properties[key] = "\n".join([exec_properties[key], *extra])
        return exec_properties
