"""TFMA metrics for per-pixel segmentation: pixel accuracy, mean IoU, per-class IoU, Dice.

TFMA's stock MeanIoU expects one class per example; this model predicts one per pixel and the
IGNORE canvas must not count. Every metric here derives from one private computation, a Beam
CombineFn that sums a [C, C] confusion matrix (rows: true class, columns: predicted class) over all
examples of a slice; TFMA de-duplicates that computation, so the six metrics cost one pass. The
scores come from models.evaluation.scores, the same code the Keras metrics mirror.

Inputs per example (after TFMA's model/output/prediction-key lookups), either the example's own
confusion matrix [C, C] counted in the graph (the `evaluate` signature, no label: what the
Evaluators use), or the label [O, O] int with IGNORE_LABEL outside the image and the prediction as
per-class scores [O, O, C] ("probabilities") or class ids [O, O] ("classes"), counted here. With
example weights enabled, an example's pixels count with its weight (a scalar, or one weight per
pixel for labels and scores).

Metric names (MetricKey.name) written by the Evaluator, named by the data set's classes:
    pixel_accuracy, mean_iou, iou/<class> for every class, dice/<class> for each foreground
    class (Oxford: iou/pet, iou/background, iou/border, dice/pet)
TFMA records a metric by class name and module, so the MetricConfigs (`metric_configs`) carry
`module: "models.evaluation.tfma_metrics"` and the Evaluator imports this module by path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

from core import contracts
from models.evaluation import scores as seg

MODULE = __name__
CONFUSION_MATRIX_NAME = "_segmentation_confusion_matrix"


def _confusion_matrix_key(
    num_classes: int, model_name: str, output_name: str, example_weighted: bool
) -> metric_types.MetricKey:
    name = metric_util.generate_private_name_from_arguments(
        CONFUSION_MATRIX_NAME, num_classes=num_classes
    )
    return metric_types.MetricKey(
        name=name,
        model_name=model_name,
        output_name=output_name,
        example_weighted=example_weighted,
    )


class _ConfusionMatrixCombiner(beam.CombineFn):
    """Sums the per-pixel confusion matrix of every example in a slice (IGNORE left out)."""

    def __init__(
        self,
        key: metric_types.MetricKey,
        eval_config: config_pb2.EvalConfig | None,
        num_classes: int,
        example_weighted: bool,
    ) -> None:
        self._key = key
        self._eval_config = eval_config
        self._num_classes = num_classes
        self._example_weighted = example_weighted

    def create_accumulator(self) -> np.ndarray:
        return np.zeros((self._num_classes, self._num_classes), dtype=np.float64)

    def add_input(
        self, accumulator: np.ndarray, element: metric_types.StandardMetricInputs
    ) -> np.ndarray:
        for label, prediction, weight in metric_util.to_label_prediction_example_weight(
            element,
            eval_config=self._eval_config,
            model_name=self._key.model_name,
            output_name=self._key.output_name,
            example_weighted=self._example_weighted,
            flatten=False,
            squeeze=False,
            allow_none=True,
        ):
            label, prediction = np.asarray(label), np.asarray(prediction)
            if label.size == 0 and prediction.shape == accumulator.shape:  # counted in the graph
                accumulator += prediction * float(np.asarray(weight).reshape(-1)[0])
                continue
            predicted = seg.predicted_classes(prediction, label.shape)
            weights = _pixel_weights(np.asarray(weight, dtype=np.float64), label.shape)
            accumulator += seg.confusion_matrix(label, predicted, self._num_classes, weights)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[np.ndarray]) -> np.ndarray:
        accumulators = iter(accumulators)
        result = next(accumulators)
        for accumulator in accumulators:
            result = result + accumulator
        return result

    def extract_output(self, accumulator: np.ndarray) -> dict[metric_types.MetricKey, np.ndarray]:
        return {self._key: accumulator}


def _pixel_weights(weight: np.ndarray, label_shape: tuple[int, ...]) -> np.ndarray | float:
    """One weight per example (a scalar) or per pixel (as many values as the label has)."""
    if weight.size == 1:
        return float(weight.reshape(()))
    if weight.size == int(np.prod(label_shape)):
        return weight.reshape(label_shape)
    raise ValueError(
        f"example weight of shape {weight.shape} fits neither one value per example nor one per "
        f"pixel of a label of shape {label_shape}"
    )


class _SegmentationScore(metric_types.Metric):
    """One score of the shared confusion matrix; subclasses say which (`_score_name`).

    class_names: the data set's class names in class-index order (they name the per-class
    scores).
    """

    def __init__(self, num_classes: int, class_names: list[str], name: str | None = None, **kwargs):
        names = list(class_names)
        if len(names) != num_classes:
            raise ValueError(f"{len(names)} class names for {num_classes} classes: {names}")
        self._class_names = names
        super().__init__(
            metric_util.merge_per_key_computations(self._computations),
            name=name,
            num_classes=num_classes,
            class_names=names,
            **kwargs,
        )

    def _score_name(self) -> str:
        raise NotImplementedError

    def _default_name(self) -> str:
        return self._score_name()

    def _computations(
        self,
        name: str,
        num_classes: int,
        class_names: list[str],
        eval_config: config_pb2.EvalConfig | None = None,
        model_name: str = "",
        output_name: str = "",
        example_weighted: bool = False,
        **unused_kwargs: Any,
    ) -> metric_types.MetricComputations:
        matrix_key = _confusion_matrix_key(num_classes, model_name, output_name, example_weighted)
        matrix = metric_types.MetricComputation(
            keys=[matrix_key],
            preprocessors=None,
            combiner=_ConfusionMatrixCombiner(
                matrix_key, eval_config, num_classes, example_weighted
            ),
        )
        key = metric_types.MetricKey(
            name=name,
            model_name=model_name,
            output_name=output_name,
            example_weighted=example_weighted,
        )
        score_name = self._score_name()

        def result(metrics: Mapping[metric_types.MetricKey, Any]) -> dict[Any, float]:
            cm = metrics[matrix_key]
            scores = seg.scores_from_confusion(cm, range(num_classes), class_names)
            return {key: scores[score_name]}

        return [matrix, metric_types.DerivedMetricComputation(keys=[key], result=result)]


class SegmentationPixelAccuracy(_SegmentationScore):
    """Share of non-IGNORE pixels predicted correctly; default name "pixel_accuracy"."""

    def _score_name(self) -> str:
        return contracts.PIXEL_ACCURACY_NAME


class SegmentationMeanIoU(_SegmentationScore):
    """Mean IoU over classes present in labels or predictions; default name "mean_iou"."""

    def _score_name(self) -> str:
        return contracts.MEAN_IOU_NAME


class _ClassScore(_SegmentationScore):
    """A score of one class (`class_id`), validated against the number of classes."""

    def __init__(
        self, class_id: int, num_classes: int, class_names: list[str], name: str | None = None
    ):
        _check_class(class_id, num_classes)
        self._class_id = class_id
        super().__init__(
            name=name, num_classes=num_classes, class_names=class_names, class_id=class_id
        )


class SegmentationIoU(_ClassScore):
    """IoU of one class; default name "iou/<class>" ("iou/pet" for Oxford's class 0)."""

    def _score_name(self) -> str:
        return contracts.iou_name(self._class_names[self._class_id])


class SegmentationDice(_ClassScore):
    """Dice coefficient of one class, 2TP / (2TP + FP + FN); default name "dice/<class>"."""

    def _score_name(self) -> str:
        return contracts.dice_name(self._class_names[self._class_id])


def _check_class(class_id: int, num_classes: int) -> None:
    if not 0 <= class_id < num_classes:
        raise ValueError(f"class_id must be in [0, {num_classes}), got {class_id}")


def segmentation_metrics(
    num_classes: int, class_names: list[str], dice_classes: tuple[int, ...]
) -> list[_SegmentationScore]:
    """The metrics the Evaluator reports: accuracy, mean IoU, IoU of every class, and Dice of
    `dice_classes` (the data set's foreground classes)."""
    names = {"num_classes": num_classes, "class_names": class_names}
    return [
        SegmentationPixelAccuracy(**names),
        SegmentationMeanIoU(**names),
        *(SegmentationIoU(class_id=c, **names) for c in range(num_classes)),
        *(SegmentationDice(class_id=c, **names) for c in dice_classes),
    ]


def metric_configs(
    thresholds: Mapping[str, config_pb2.MetricThreshold] | None,
    num_classes: int,
    class_names: list[str],
    dice_classes: tuple[int, ...],
) -> list[config_pb2.MetricConfig]:
    """MetricConfigs of `segmentation_metrics`, with thresholds keyed by metric name.

    Thresholds must sit on the MetricConfig of the metric they judge: TFMA matches a
    MetricConfig threshold against the key named after that metric only. They judge the overall
    slice only: a plain MetricConfig threshold judges every slice, so a model better overall was
    refused for being worse on a 10-image slice (object_size: large), whose scores are noise.
    """
    thresholds = dict(thresholds or {})
    configs = []
    for metric in segmentation_metrics(num_classes, class_names, dice_classes):
        metric_config = config_pb2.MetricConfig(
            class_name=type(metric).__name__,
            module=MODULE,
            config=json.dumps(metric.get_config(), sort_keys=True),
        )
        if metric.name in thresholds:
            metric_config.per_slice_thresholds.add(
                slicing_specs=[config_pb2.SlicingSpec()], threshold=thresholds.pop(metric.name)
            )
        configs.append(metric_config)
    if thresholds:
        raise ValueError(f"thresholds for unknown metrics: {sorted(thresholds)}")
    return configs
