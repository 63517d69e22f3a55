"""The Evaluators' EvalConfig: segmentation metrics, blessing thresholds, no-regression check.

TFMA runs the exported SavedModel generically (model_type tf_generic): its `evaluate` signature
turns each raw tf.Example (image and mask) into a K x K confusion matrix inside the graph, so only
K*K counts per example reach the Python combiner rather than O x O x K probabilities. Declaring
the model type spares TFMA its attempt to load the SavedModel as a Keras model (which would need the
training-time custom objects).

Baseline handling: the config names a single, unnamed candidate ModelSpec. The TFX Evaluator calls
tfma.utils.update_eval_config_with_defaults(has_baseline=..., rubber_stamp=True): with a baseline
model from the pipeline's resolver it copies the spec as the baseline and renames the two
"candidate" and "baseline"; without one (the first run) it drops the change thresholds and judges
the value thresholds only. One Evaluator reads one split: TFX would merge several
`example_splits` into one data set.
"""

from __future__ import annotations

import tensorflow_model_analysis as tfma

from core import contracts
from core.config import EvaluationConfig
from core.dataset import DatasetSpec
from models.evaluation import confidence_metrics, tfma_metrics

# The test split's Evaluator reports and blesses nothing that matters: no thresholds.
REPORT_ONLY = EvaluationConfig(mean_iou_threshold=0.0, foreground_iou_threshold=0.0)


def _blessing_threshold(lower_bound: float, change_threshold: float) -> tfma.MetricThreshold:
    """At least `lower_bound`, and no worse than the baseline by more than -change_threshold."""
    return tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": lower_bound}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": change_threshold},
        ),
    )


def slicing_specs(dataset: DatasetSpec) -> list[tfma.SlicingSpec]:
    """Metrics per slice feature the data set names (Oxford: species) and per object size."""
    features = [feature for feature, _ in dataset.slices] + [contracts.OBJECT_SIZE_KEY]
    return [tfma.SlicingSpec(feature_keys=[feature]) for feature in features]


def model_spec(in_graph: bool = True) -> tfma.ModelSpec:
    """How TFMA calls the exported model. in_graph: the `evaluate` signature's per-example
    confusion matrices (K x K counts); otherwise the per-pixel way, `transform_features`' labels
    and `predict_examples`' O x O x K probabilities, which the combiner counts in NumPy (the same
    values, 1.6-1.75x slower at full size at the 572 tile; benchmarks and a test compare them)."""
    if in_graph:
        return tfma.ModelSpec(
            signature_name=contracts.EVALUATION_SIGNATURE,
            prediction_key=contracts.CONFUSION_MATRIX_KEY,
            model_type=tfma.TF_GENERIC,
        )
    return tfma.ModelSpec(
        signature_name=contracts.PREDICT_EXAMPLES_SIGNATURE,
        preprocessing_function_names=[contracts.TRANSFORM_SIGNATURE],
        label_key=contracts.LABEL_KEY,
        prediction_key=contracts.PROBABILITIES_KEY,
        model_type=tfma.TF_GENERIC,
    )


def build_eval_config(
    evaluation: EvaluationConfig, dataset: DatasetSpec, in_graph: bool = True
) -> tfma.EvalConfig:
    """EvalConfig for the Evaluator: overall slice, segmentation metrics, blessing thresholds.

    A model is blessed when mean IoU >= mean_iou_threshold, the IoU of every foreground class
    (Oxford: the pet) >= foreground_iou_threshold and, if a baseline exists, (candidate -
    baseline) >= change_threshold for each of them (a tiny negative value such as -1e-10 means
    "no regression", tolerant of float noise). Metrics are named by the data set's classes.
    """
    thresholds = {
        contracts.MEAN_IOU_NAME: _blessing_threshold(
            evaluation.mean_iou_threshold, evaluation.change_threshold
        ),
        **{
            contracts.iou_name(dataset.class_names[c]): _blessing_threshold(
                evaluation.foreground_iou_threshold, evaluation.change_threshold
            )
            for c in dataset.foreground_classes
        },
    }
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        *tfma_metrics.metric_configs(
            thresholds,
            dataset.num_classes,
            list(dataset.class_names),
            dataset.foreground_classes,
        ),
        confidence_metrics.metric_config(dataset.num_classes),
    ]
    return tfma.EvalConfig(
        model_specs=[model_spec(in_graph)],
        slicing_specs=[tfma.SlicingSpec(), *slicing_specs(dataset)],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
    )
