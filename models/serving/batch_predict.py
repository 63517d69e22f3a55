"""Batch segmentation of a whole collection on Apache Beam: masks and a manifest (the command; its
stages are models/serving/batch_stages.py, imported after the start-up).

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
import os
import shlex
import sys

from models.serving import batch_files


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
    parser.add_argument("--max-file-mb", type=float, default=batch_files.DEFAULT_MAX_FILE_MB)
    parser.add_argument(
        "--max-image-megapixels", type=float, default=batch_files.DEFAULT_MAX_MEGAPIXELS
    )
    parser.add_argument("--beam-args", action="append", default=[], help="Beam flags, quoted")
    args = parser.parse_args(glue_flag_values(sys.argv[1:] if argv is None else argv))
    with console.StderrFilter():
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions

        from models.serving.batch_stages import build
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
    rows = batch_files.read_manifest(args.out)
    failed = sum(row["status"] != "ok" for row in rows)
    print(
        f"petunet: {len(rows)} file(s): {len(rows) - failed} mask(s) in "
        f"{os.path.join(args.out, batch_files.MASKS_DIR)}, {failed} with a reason in "
        f"{os.path.join(args.out, 'manifest.jsonl')}"
    )
    return 0


if __name__ == "__main__":
    import startup

    startup.start(filter_stderr=True, console_logging=True)
    sys.exit(main())
