"""Batch segmentation of a whole collection on Apache Beam: masks and a manifest.

    python -m models.serving.batch_predict --model serving_model/VERSION \
        --images 'gs://BUCKET/photos/**.jpg' --out gs://BUCKET/masks [--tile] \
        [--beam-args "--runner=DataflowRunner --project=... --region=... --temp_location=..."]

Every file the globs match (a folder: every file below it) is read through Beam's file systems
(local, gs://, ...), checked (size, an image header within the pixel limit), segmented by Beam's
RunInference with a TensorFlow model handler that loads the exported SavedModel once per worker and
calls `predict_image` (or `predict_image_tiled` with --tile) on batches, and its mask is written as
a PNG in the data set's label values at the image's own size: `<out>/masks/<path under the glob's
folder>.png`. Each file is one row of `<out>/manifest.jsonl` (name, size, pixels per class, the
answer's confidence, status): an unreadable, oversized or non-image file is a row with its reason,
never a failed job. Memory stays flat in the number of images: files stream through, batches are
bounded.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import sys
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
DEFAULT_MAX_FILE_MB = 64.0
DEFAULT_MAX_MEGAPIXELS = 40.0


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
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
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


def main(argv: list[str] | None = None) -> int:
    from core.settings import glue_flag_values
    from startup import console

    console.configure_logging()
    parser = argparse.ArgumentParser(description="Segment a collection of images on Beam.")
    parser.add_argument("--model", required=True, help="SavedModel directory (a pushed version)")
    parser.add_argument(
        "--images", required=True, action="append", help="a glob or a folder; repeatable"
    )
    parser.add_argument("--out", required=True, help="folder for masks/ and manifest.jsonl")
    parser.add_argument("--tile", action="store_true", help="full-resolution overlap-tile")
    parser.add_argument("--max-file-mb", type=float, default=DEFAULT_MAX_FILE_MB)
    parser.add_argument("--max-image-megapixels", type=float, default=DEFAULT_MAX_MEGAPIXELS)
    parser.add_argument("--beam-args", action="append", default=[], help="Beam flags, quoted")
    args = parser.parse_args(glue_flag_values(sys.argv[1:] if argv is None else argv))
    with console.StderrFilter():
        from apache_beam.options.pipeline_options import PipelineOptions

        from models.serving.prediction import load_dataset, load_model

        load_model(args.model)  # fails here, in one line, if it is no SavedModel
        spec = load_dataset(args.model)
        flags = [word for text in args.beam_args for word in shlex.split(text)]
        with beam.Pipeline(options=PipelineOptions(flags)) as pipeline:
            build(
                pipeline,
                args.model,
                [batch_files.as_pattern(argument) for argument in args.images],
                args.out,
                spec.class_values,
                args.tile,
                args.max_file_mb,
                args.max_image_megapixels,
            )
    rows = read_manifest(args.out)
    failed = sum(row["status"] != "ok" for row in rows)
    print(
        f"petunet: {len(rows)} file(s): {len(rows) - failed} mask(s) in "
        f"{os.path.join(args.out, batch_files.MASKS_DIR)}, {failed} with a reason in "
        f"{os.path.join(args.out, 'manifest.jsonl')}"
    )
    return 0


def read_manifest(out_dir: str, name: str = "manifest.jsonl") -> list[dict[str, Any]]:
    import tensorflow as tf

    with tf.io.gfile.GFile(os.path.join(out_dir, name)) as f:
        return [json.loads(line) for line in f if line.strip()]


if __name__ == "__main__":
    import startup

    startup.start(filter_stderr=True, console_logging=True)
    # By its module name, not as __main__: Beam's workers unpickle the DoFns and the handler.
    from models.serving import batch_predict

    sys.exit(batch_predict.main())
