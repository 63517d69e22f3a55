"""Driver of PetExampleGen: the input fingerprint also covers the images and trimaps.

The stock driver fingerprints only the files its split patterns match, here the list files; an
image or trimap replaced in place would then leave the fingerprint (and the pipeline cache) as
it was and the old examples would be reused.
"""

from __future__ import annotations

from typing import Any

from tfx.components.example_gen import driver, utils
from tfx.orchestration import data_types
from tfx.types import standard_component_specs
from tfx.utils import io_utils

from components.example_gen import oxford
from components.example_gen.files import join

FINGERPRINTED = (("images", f"{oxford.IMAGES_DIR}/*"), ("trimaps", f"{oxford.TRIMAPS_DIR}/*"))


class PetExampleGenDriver(driver.FileBasedDriver):
    def resolve_exec_properties(
        self,
        exec_properties: dict[str, Any],
        pipeline_info: data_types.PipelineInfo,
        component_info: data_types.ComponentInfo,
    ) -> dict[str, Any]:
        exec_properties = super().resolve_exec_properties(
            exec_properties, pipeline_info, component_info
        )
        root = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        extra = [
            io_utils.generate_fingerprint(name, join(root, pattern))
            for name, pattern in FINGERPRINTED
        ]
        key = utils.FINGERPRINT_PROPERTY_NAME
        exec_properties[key] = "\n".join([exec_properties[key], *extra])
        return exec_properties
