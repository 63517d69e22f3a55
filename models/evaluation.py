"""The Evaluator's EvalConfig: segmentation metrics, blessing thresholds, no-regression check.

TFMA runs the exported SavedModel generically (model_type tf_generic): `transform_features` turns
the raw tf.Examples into transformed features, where the label key is found, and
`serving_default` turns the same raw examples into per-pixel probabilities. Declaring the model
type spares TFMA its attempt to load the SavedModel as a Keras model (which would need the
training-time custom objects) and keeps the config valid for a tf.Module export as well.

Baseline handling: the config names a single, unnamed candidate ModelSpec. The TFX Evaluator calls
tfma.utils.update_eval_config_with_defaults(has_baseline=..., rubber_stamp=True): with a baseline
model from the LatestBlessedModelStrategy resolver it copies the spec as the baseline and renames
the two "candidate" and "baseline"; without one (the first run) it drops the change thresholds and
judges the value thresholds only. Give the Evaluator `example_splits=["eval", "test"]` to report
both splits (it reads only "eval" by default); the thresholds then apply to the union of the two.

Memory: the Evaluator reads examples in batches that Beam sizes adaptively, up to 1,000; each
example becomes a tile, a label and O x O x C probabilities, so peak memory grew with the split.
`custom_extractors` (the TFX Evaluator's hook, found through `module_path`) cuts every batch to
at most INFERENCE_BATCH_SIZE examples before the default extractors run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import tensorflow_model_analysis as tfma

from models import features, tfma_metrics

SERVING_SIGNATURE_NAME = "serving_default"  # serialized tf.Example -> probabilities, classes
TRANSFORM_SIGNATURE_NAME = "transform_features"  # serialized tf.Example -> transformed features
PROBABILITIES_KEY = "probabilities"  # float32 [B, O, O, C]
CLASSES_KEY = "classes"  # int64 [B, O, O]
MODEL_TYPE = tfma.TF_GENERIC
INFERENCE_BATCH_SIZE = 16  # examples per model call in the Evaluator: bounds its memory


def _blessing_threshold(lower_bound: float, change_threshold: float) -> tfma.MetricThreshold:
    """At least `lower_bound`, and no worse than the baseline by more than -change_threshold."""
    return tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": lower_bound}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": change_threshold},
        ),
    )


def build_eval_config(
    mean_iou_threshold: float,
    pet_iou_threshold: float,
    change_threshold: float,
    label_key: str = features.LABEL_KEY,
    prediction_key: str = PROBABILITIES_KEY,
) -> tfma.EvalConfig:
    """EvalConfig for the Evaluator: overall slice, segmentation metrics, blessing thresholds.

    A model is blessed when mean IoU >= mean_iou_threshold, pet IoU >= pet_iou_threshold and,
    if a baseline exists, (candidate - baseline) >= change_threshold for both (a tiny negative
    value such as -1e-10 means "no regression", tolerant of float noise).
    """
    model_spec = tfma.ModelSpec(
        signature_name=SERVING_SIGNATURE_NAME,
        preprocessing_function_names=[TRANSFORM_SIGNATURE_NAME],
        label_key=label_key,
        prediction_key=prediction_key,
        model_type=MODEL_TYPE,
    )
    thresholds = {
        tfma_metrics.MEAN_IOU_NAME: _blessing_threshold(mean_iou_threshold, change_threshold),
        tfma_metrics.PET_IOU_NAME: _blessing_threshold(pet_iou_threshold, change_threshold),
    }
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        *tfma_metrics.metric_configs(thresholds),
    ]
    return tfma.EvalConfig(
        model_specs=[model_spec],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
    )


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
