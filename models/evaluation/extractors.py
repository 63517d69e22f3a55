"""The Evaluators' `custom_extractors` hook (found through their `module_path`): bounded batches.

The Evaluator reads examples in batches that Beam sizes adaptively, up to 1,000; each example
becomes a tile, a label and O x O x K probabilities, so peak memory grew with the split. Cutting
every batch to at most INFERENCE_BATCH_SIZE examples before TFMA's default extractors run keeps
the Evaluator's memory independent of the split's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import tensorflow_model_analysis as tfma

INFERENCE_BATCH_SIZE = 16  # examples per model call in the Evaluator: bounds its memory


def split_record_batch(extracts: dict[str, Any], max_rows: int) -> Iterator[dict[str, Any]]:
    """The input extracts with their Arrow record batch cut into slices of at most max_rows."""
    batch = extracts[tfma.ARROW_RECORD_BATCH_KEY]
    for start in range(0, batch.num_rows, max_rows):
        yield {**extracts, tfma.ARROW_RECORD_BATCH_KEY: batch.slice(start, max_rows)}


def custom_extractors(
    eval_shared_model: Any, eval_config: tfma.EvalConfig, tensor_adapter_config: Any
) -> list[tfma.extractors.Extractor]:
    """TFX Evaluator hook: TFMA's default extractors after a cut to bounded batch sizes."""
    bound = tfma.extractors.Extractor(
        stage_name="BoundBatchSize",
        ptransform=beam.FlatMap(split_record_batch, max_rows=INFERENCE_BATCH_SIZE),
    )
    defaults = tfma.default_extractors(
        eval_shared_model=eval_shared_model,
        eval_config=eval_config,
        tensor_adapter_config=tensor_adapter_config,
    )
    return [bound, *defaults]
