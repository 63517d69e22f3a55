"""The Beam stages of the batch job and of the annotation command: match, read and check, segment
with RunInference (the model handler), and the manifest rows each job makes of an answer
(models/serving/batch_predict.py and pipeline/select_for_annotation.py are their commands).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.io import fileio
from apache_beam.ml.inference.base import (
    KeyedModelHandler,
    ModelHandler,
    PredictionResult,
    RunInference,
)

from core import contracts
from models.serving import batch_files

MANIFEST = "manifest"
MAX_BATCH = 8  # images per model call: bounds a worker's memory


class _Read(beam.DoFn):
    """A matched file -> (path, bytes) to segment, or a manifest row with its reason."""

    def __init__(self, max_file_mb: float, max_megapixels: float) -> None:
        self._max_bytes = max_file_mb * (1 << 20)
        self._max_megapixels = max_megapixels

    def process(self, readable: fileio.ReadableFile) -> Iterator[Any]:
        path = readable.metadata.path
        if readable.metadata.size_in_bytes > self._max_bytes:
            reason = f"{readable.metadata.size_in_bytes} bytes is over --max-file-mb"
            yield beam.pvalue.TaggedOutput(MANIFEST, batch_files.row(path, None, None, reason))
            return
        try:
            data = readable.read()
        except Exception as error:
            reason = f"unreadable ({type(error).__name__}: {error})"
            yield beam.pvalue.TaggedOutput(MANIFEST, batch_files.row(path, None, None, reason))
            return
        problem = batch_files.check_image(data, self._max_megapixels)
        if problem:
            yield beam.pvalue.TaggedOutput(MANIFEST, batch_files.row(path, None, None, problem))
            return
        yield path, data


def segment_batch(
    model: Any, batch: Sequence[Any], inference_args: dict, model_id: str | None = None
) -> Iterable[PredictionResult]:
    """The model's answer per image; an image the model refuses (a truncated JPEG...) gets an
    `error` instead of failing its batch: the batch is retried image by image."""
    import tensorflow as tf

    signature = model.signatures[inference_args.get("signature", contracts.PREDICT_IMAGE_SIGNATURE)]

    def call(images: list) -> list[dict[str, Any]]:
        out = signature(**{contracts.IMAGE_BYTES_INPUT: tf.stack(images)})
        pngs = out[contracts.MASK_PNG_KEY].numpy()
        sizes = out[contracts.IMAGE_SIZE_KEY].numpy()
        confidences = out.get(contracts.CONFIDENCE_KEY)  # None from a model exported before it
        values = [None] * len(images) if confidences is None else confidences.numpy().tolist()
        return [
            {"png": p, "size": s.tolist(), "confidence": c}
            for p, s, c in zip(pngs, sizes, values, strict=True)
        ]

    try:
        answers = call(list(batch))
    except tf.errors.InvalidArgumentError:
        answers = []
        for image in batch:
            try:
                answers += call([image])
            except tf.errors.InvalidArgumentError as error:
                answers.append({"error": error.message.strip().splitlines()[0]})
    return [PredictionResult(x, y, model_id) for x, y in zip(batch, answers, strict=True)]


class SegmentationModelHandler(ModelHandler[Any, PredictionResult, Any]):
    """A TensorFlow model handler for Beam's RunInference: petunet's SavedModel, loaded once per
    worker with tf.saved_model.load (its signatures need no Keras), called on batches of encoded
    images through an image signature. (Beam's own TFModelHandlerTensor loads Keras models.)"""

    def __init__(self, model_dir: str, signature: str, max_batch_size: int = MAX_BATCH) -> None:
        super().__init__()
        self._model_dir = model_dir
        self._signature = signature
        self._max_batch_size = max_batch_size

    def load_model(self) -> Any:
        import tensorflow as tf

        return tf.saved_model.load(self._model_dir)

    def run_inference(
        self, batch: Sequence[Any], model: Any, inference_args: dict | None = None
    ) -> Iterable[PredictionResult]:
        return segment_batch(model, batch, {"signature": self._signature}, self._model_dir)

    def batch_elements_kwargs(self) -> dict[str, int]:
        return {"max_batch_size": self._max_batch_size}

    def get_metrics_namespace(self) -> str:
        return "petunet_batch_predict"


class AnswerRows(beam.DoFn):
    """(path, PredictionResult) -> its manifest row: an image the model refused is a row with the
    reason; what a segmented image gives, each subclass says (`answered`)."""

    def process(self, element: tuple[str, PredictionResult]) -> Iterator[dict[str, Any]]:
        path, result = element
        if "error" in result.inference:
            yield batch_files.row(path, None, None, result.inference["error"])
        else:
            yield self.answered(path, result)

    def answered(self, path: str, result: PredictionResult) -> dict[str, Any]:
        raise NotImplementedError


class _WriteMask(AnswerRows):
    """Writes each mask PNG; its row counts the pixels per class."""

    def __init__(self, out_dir: str, base: str, class_values: Sequence[int]) -> None:
        self._out_dir, self._base, self._values = out_dir, base, list(class_values)

    def answered(self, path: str, result: PredictionResult) -> dict[str, Any]:
        import tensorflow as tf
        from PIL import Image

        answer = result.inference
        target = batch_files.mask_path(self._out_dir, path, self._base)
        tf.io.gfile.makedirs(os.path.dirname(target))
        with tf.io.gfile.GFile(target, "wb") as f:
            f.write(answer["png"])
        mask = np.asarray(Image.open(io.BytesIO(answer["png"])))
        counts = np.bincount(mask.ravel(), minlength=max(self._values) + 1)
        pixels = {str(v): int(counts[v]) for v in self._values}
        row = batch_files.row(path, answer["size"], pixels, None, answer["confidence"])
        return {**row, "mask": target}


def build(
    pipeline: beam.Pipeline,
    model_dir: str,
    patterns: Sequence[str],
    out_dir: str,
    class_values: Sequence[int],
    tile: bool = False,
    max_file_mb: float = batch_files.DEFAULT_MAX_FILE_MB,
    max_megapixels: float = batch_files.DEFAULT_MAX_MEGAPIXELS,
) -> None:
    """The batch job on `pipeline`: match, read and check, segment, write masks and manifest."""
    rows = []
    for i, pattern in enumerate(patterns):
        refused, answers = segment(
            pipeline, i, model_dir, pattern, tile, max_file_mb, max_megapixels
        )
        written = answers | f"Write[{i}]" >> beam.ParDo(
            _WriteMask(out_dir, batch_files.glob_base(pattern), class_values)
        )
        rows += [refused, written]
    write_rows(rows, os.path.join(out_dir, "manifest"))


def segment(
    pipeline: beam.Pipeline,
    index: int,
    model_dir: str,
    pattern: str,
    tile: bool,
    max_file_mb: float,
    max_megapixels: float,
) -> tuple[beam.PCollection, beam.PCollection]:
    """(manifest rows of the files refused before the model, (path, PredictionResult) of the
    rest) for the files one glob matches: matched, read and checked, then segmented."""
    signature = (
        contracts.PREDICT_IMAGE_TILED_SIGNATURE if tile else contracts.PREDICT_IMAGE_SIGNATURE
    )
    i = index
    read = (
        pipeline
        | f"Match[{i}]" >> fileio.MatchFiles(pattern, empty_match_treatment="ALLOW")
        | f"Open[{i}]" >> fileio.ReadMatches()
        | f"Check[{i}]"
        >> beam.ParDo(_Read(max_file_mb, max_megapixels)).with_outputs(MANIFEST, main="images")
    )
    answers = (
        read.images
        | f"Tensors[{i}]" >> beam.MapTuple(lambda path, data: (path, _as_tensor(data)))
        | f"Segment[{i}]"
        >> RunInference(KeyedModelHandler(SegmentationModelHandler(model_dir, signature)))
    )
    return read[MANIFEST], answers


def write_rows(rows: list[beam.PCollection], prefix: str) -> None:
    """Every row as a line of JSON in one file, `<prefix>.jsonl`."""
    _ = (
        rows
        | "AllRows" >> beam.Flatten()
        | "Json" >> beam.Map(lambda row: json.dumps(row, sort_keys=True))
        | "Manifest"
        >> beam.io.WriteToText(
            prefix, file_name_suffix=".jsonl", shard_name_template="", num_shards=1
        )
    )


def _as_tensor(data: bytes):
    import tensorflow as tf

    return tf.constant(data)


class ScoreRows(AnswerRows):
    """A segmented image's row holds the answer's confidence and the image's pHash (imagehash)."""

    def answered(self, path: str, result: PredictionResult) -> dict[str, Any]:
        import imagehash
        from PIL import Image

        image = Image.open(io.BytesIO(result.example.numpy()))
        answer = result.inference
        row = batch_files.row(path, answer["size"], None, None, answer["confidence"])
        return {**row, "phash": str(imagehash.phash(image.convert("L")))}


def score(pipeline: beam.Pipeline, model_dir: str, patterns: list[str], prefix: str, **limits):
    """The annotation command's stage: a row per matched file, with its confidence and pHash
    when segmented, in `<prefix>.jsonl`."""
    rows = []
    for i, pattern in enumerate(patterns):
        refused, answers = segment(pipeline, i, model_dir, pattern, **limits)
        rows += [refused, answers | f"Score[{i}]" >> beam.ParDo(ScoreRows())]
    write_rows(rows, prefix)
