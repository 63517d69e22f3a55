"""Driver of the ExampleGen (local runs): the input's resolution of components/example_gen/
inputs.py, whose fingerprint also covers the images and masks."""

from __future__ import annotations

from typing import Any

from tfx.components.example_gen import driver
from tfx.orchestration import data_types

from components.example_gen.inputs import resolve_input


class ExampleGenDriver(driver.FileBasedDriver):
    def resolve_exec_properties(
        self,
        exec_properties: dict[str, Any],
        pipeline_info: data_types.PipelineInfo,
        component_info: data_types.ComponentInfo,
    ) -> dict[str, Any]:
        return resolve_input(exec_properties)
