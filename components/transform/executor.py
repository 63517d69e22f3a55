"""Transform's executor, marking the examples it materializes with their payload format and
their content key.

TFX's Transform writes tf.Examples but leaves the artifact's `payload_format` unset, so every
reader of them (the Trainer's data accessor, once per split) warns and falls back to the default.
The content key (components/content_key.py) lets the Trainer resume a checkpoint when the same
examples were remade under new paths.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.components.transform import executor as tfx_transform
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs

from components import content_key
from core.contracts import CONTENT_KEY_FILE


class Executor(tfx_transform.Executor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        parents = [content_key.key_of(a) for a in input_dict[standard_component_specs.EXAMPLES_KEY]]
        key = content_key.content_key(parents, exec_properties)
        for examples in output_dict.get(standard_component_specs.TRANSFORMED_EXAMPLES_KEY, []):
            examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
            content_key.mark(examples, key, CONTENT_KEY_FILE)
