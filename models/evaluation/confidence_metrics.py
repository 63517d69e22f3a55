"""TFMA metrics of the answers' confidence: does it rank the images the way their own mean IoU does?

Per example, the served model's `confidence` (models/serving/confidence.py) and the example's own
mean IoU (from its confusion matrix, the `evaluate` signature's; or from its label and
probabilities on the per-pixel path). Over a slice:
    confidence_spearman              Spearman's rank correlation of the two
    confidence_lowest_tenth_mean_iou mean IoU of the tenth of the examples least confident
    confidence_rest_mean_iou         mean IoU of the other nine tenths
    confidence_lowest_tenth_gap      the rest's mean IoU minus the lowest tenth's
An example's mean IoU averages the classes present in its label or its prediction (as mean_iou
does over a slice). A model exported without a confidence (a baseline from before it existed)
reports none of these. The metrics judge nothing: no threshold reads them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import apache_beam as beam
import numpy as np
from scipy import stats
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

from core import contracts
from models.evaluation import scores as seg

MODULE = __name__
PAIRS_NAME = "_confidence_and_mean_iou"
LOWEST_SHARE = 0.1


def ranking(confidences: np.ndarray, ious: np.ndarray) -> dict[str, float]:
    """The four measures of (confidence, mean IoU) pairs; empty below two examples."""
    confidences, ious = np.asarray(confidences, float), np.asarray(ious, float)
    if len(ious) < 2:
        return {}
    lowest = max(1, round(LOWEST_SHARE * len(ious)))
    order = np.argsort(confidences, kind="stable")
    low, rest = ious[order[:lowest]].mean(), ious[order[lowest:]].mean()
    rho = stats.spearmanr(confidences, ious).statistic
    measures = {
        contracts.CONFIDENCE_LOWEST_TENTH_NAME: low,
        contracts.CONFIDENCE_REST_NAME: rest,
        contracts.CONFIDENCE_GAP_NAME: rest - low,
    }
    if math.isfinite(rho):  # undefined when every confidence (or IoU) is the same
        measures[contracts.CONFIDENCE_SPEARMAN_NAME] = float(rho)
    return {k: float(v) for k, v in measures.items()}


def _example_mean_iou(prediction: Mapping[str, Any], label: Any, num_classes: int) -> float:
    if contracts.CONFUSION_MATRIX_KEY in prediction:
        matrix = np.asarray(prediction[contracts.CONFUSION_MATRIX_KEY])
    else:
        label = np.asarray(label)
        predicted = seg.predicted_classes(prediction[contracts.PROBABILITIES_KEY], label.shape)
        matrix = seg.confusion_matrix(label, predicted, num_classes)
    names = [str(c) for c in range(num_classes)]
    return seg.scores_from_confusion(matrix, (), names)[contracts.MEAN_IOU_NAME]


class _PairsCombiner(beam.CombineFn):
    """Collects (confidence, mean IoU) per example of a slice: two floats an example."""

    def __init__(self, key: metric_types.MetricKey, num_classes: int) -> None:
        self._key = key
        self._num_classes = num_classes

    def create_accumulator(self) -> list[tuple[float, float]]:
        return []

    def add_input(
        self, accumulator: list, element: metric_types.StandardMetricInputs
    ) -> list[tuple[float, float]]:
        prediction = element.prediction
        for name in (self._key.model_name, self._key.output_name):  # keyed so with a baseline
            if name and isinstance(prediction, Mapping):
                prediction = prediction.get(name)
        if isinstance(prediction, Mapping) and contracts.CONFIDENCE_KEY in prediction:
            iou = _example_mean_iou(prediction, element.label, self._num_classes)
            if math.isfinite(iou):
                value = float(np.asarray(prediction[contracts.CONFIDENCE_KEY]).reshape(-1)[0])
                accumulator.append((value, iou))
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[list]) -> list[tuple[float, float]]:
        return [pair for accumulator in accumulators for pair in accumulator]

    def extract_output(self, accumulator: list) -> dict[metric_types.MetricKey, np.ndarray]:
        return {self._key: np.asarray(accumulator, float).reshape(-1, 2)}


class ConfidenceRanking(metric_types.Metric):
    """The four confidence measures of a slice (module docstring), from one pass."""

    def __init__(self, num_classes: int, name: str = contracts.CONFIDENCE_SPEARMAN_NAME) -> None:
        super().__init__(
            metric_util.merge_per_key_computations(self._computations),
            name=name,
            num_classes=num_classes,
        )

    def _computations(
        self,
        name: str,
        num_classes: int,
        model_name: str = "",
        output_name: str = "",
        example_weighted: bool = False,
        **unused_kwargs: Any,
    ) -> metric_types.MetricComputations:
        def key(measure: str) -> metric_types.MetricKey:
            return metric_types.MetricKey(
                name=measure,
                model_name=model_name,
                output_name=output_name,
                example_weighted=example_weighted,
            )

        pairs_key = key(PAIRS_NAME)
        keys = {measure: key(measure) for measure in contracts.CONFIDENCE_MEASURE_NAMES}

        def result(metrics: Mapping[metric_types.MetricKey, Any]) -> dict:
            pairs = metrics[pairs_key]
            measured = ranking(pairs[:, 0], pairs[:, 1])
            return {keys[measure]: value for measure, value in measured.items()}

        return [
            metric_types.MetricComputation(
                keys=[pairs_key],
                preprocessors=None,
                combiner=_PairsCombiner(pairs_key, num_classes),
            ),
            metric_types.DerivedMetricComputation(keys=list(keys.values()), result=result),
        ]


def metric_config(num_classes: int) -> config_pb2.MetricConfig:
    """The MetricConfig that reports the confidence measures (TFMA imports MODULE by name)."""
    metric = ConfidenceRanking(num_classes)
    return config_pb2.MetricConfig(
        class_name=type(metric).__name__,
        module=MODULE,
        config=json.dumps(metric.get_config(), sort_keys=True),
    )
