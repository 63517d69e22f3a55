"""The model on the eval split, one example at a time: per-example scores and confidences for the
best, worst and least confident predictions, the confusion matrix over all of them, and the
overlays the report shows.

It runs the Trainer's exported model through its own signatures (`transform_features` for the
label and canvas, `serving_default` for the probabilities), so what the report shows is what the
Evaluator scored and what a served model answers.
"""

from __future__ import annotations

import glob
import io
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from PIL import Image

from core import contracts
from core.dataset import DatasetSpec
from models import visual
from models.evaluation import scores
from models.transform import overlap_tile

MAX_EXAMPLES = 200  # scored for the gallery: enough to find good and bad ones, bounded in time
OVERLAY_ALPHA = 0.5


@dataclass
class Scored:
    name: str
    mean_iou: float
    image: np.ndarray  # uint8 [O, O, 3] the image on the canvas
    truth: np.ndarray  # class indices [O, O], IGNORE off the image
    predicted: np.ndarray  # class indices [O, O]
    confidence: float  # the answer's own estimate of its mean IoU


def read_examples(examples_uri: str, split: str, limit: int = MAX_EXAMPLES) -> list[bytes]:
    """Serialized raw tf.Examples of one split of an Examples artifact (at most `limit`)."""
    files = sorted(glob.glob(os.path.join(examples_uri, f"Split-{split}", "*.gz")))
    records = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").take(limit):
        records.append(record.numpy())
    return records


def _canvas_image(example: tf.train.Example, canvas: int, channels: int) -> np.ndarray:
    """The example's image as the model saw it: fitted onto the canvas, mirror-filled, RGB."""
    image_bytes = example.features.feature[contracts.IMAGE_KEY].bytes_list.value[0]
    image = overlap_tile.decode_image(tf.constant(image_bytes), channels)
    tile, _ = overlap_tile.image_to_tile(image, canvas, 0)
    rgb = tile.numpy()
    return np.repeat(rgb, 3, axis=-1) if rgb.shape[-1] == 1 else rgb


def score_examples(
    model_dir: str, records: list[bytes], spec: DatasetSpec
) -> tuple[list, np.ndarray]:
    """(Scored per example, the confusion matrix summed over them) for the model in model_dir."""
    model = tf.saved_model.load(model_dir)
    serve = model.signatures[contracts.PREDICT_EXAMPLES_SIGNATURE]
    transform = model.signatures[contracts.TRANSFORM_SIGNATURE]
    total = np.zeros((spec.num_classes, spec.num_classes), np.int64)
    scored = []
    for record in records:
        batch = {contracts.EXAMPLES_INPUT: tf.constant([record])}
        truth = transform(**batch)[contracts.LABEL_KEY].numpy()[0]
        answer = serve(**batch)
        predicted = answer[contracts.CLASSES_KEY].numpy()[0]
        confidence = float(answer[contracts.CONFIDENCE_KEY].numpy()[0])
        cm = scores.confusion_matrix(truth, predicted, spec.num_classes)
        total += cm
        example = tf.train.Example.FromString(record)
        name = example.features.feature[contracts.NAME_KEY].bytes_list.value[0].decode()
        mean_iou = scores.scores_from_confusion(cm, (), spec.class_names)[contracts.MEAN_IOU_NAME]
        image = _canvas_image(example, truth.shape[0], spec.num_channels)
        scored.append(Scored(name, mean_iou, image, truth, predicted, confidence))
    return scored, total


def best_and_worst(scored: list[Scored], count: int = 8) -> tuple[list[Scored], list[Scored]]:
    """Up to `count` best (best first) and `count` worst (worst first), never the same example
    twice: a small split is cut in halves."""
    ranked = sorted((s for s in scored if np.isfinite(s.mean_iou)), key=lambda s: -s.mean_iou)
    worst = min(count, len(ranked) // 2)
    best = min(count, len(ranked) - worst)
    return ranked[:best], ranked[len(ranked) - worst :][::-1]


def least_confident(scored: list[Scored], count: int = 8) -> list[Scored]:
    """Up to `count` examples the model is least sure of, least first."""
    return sorted(scored, key=lambda s: s.confidence)[:count]


def overlay_strip(item: Scored, spec: DatasetSpec, scale: int = 2) -> bytes:
    """PNG bytes of image | truth | prediction, the classes blended over the image."""
    colours = visual.class_colours(spec.num_classes, spec.background_class)

    def blend(labels: np.ndarray) -> np.ndarray:
        coloured = visual.colour_labels(labels, colours).astype(np.float32)
        foreground = (labels != spec.background_class)[..., None]
        mixed = (1 - OVERLAY_ALPHA) * item.image + OVERLAY_ALPHA * coloured
        return np.where(foreground, mixed, item.image).astype(np.uint8)

    gap = np.full((item.image.shape[0], 4, 3), 255, np.uint8)
    strip = np.concatenate([item.image, gap, blend(item.truth), gap, blend(item.predicted)], 1)
    picture = Image.fromarray(strip)
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
