"""What to annotate next: the unlabelled images the pushed model is least sure of, written as the
skeleton of the data set's next span.

    python -m pipeline.select_for_annotation --model serving_model/VERSION \
        --images 'unlabelled/**.jpg' --data-root my_data --count 50 [--tile] \
        [--beam-args "--runner=DataflowRunner ..."]

On Beam, as the batch job (models/serving/batch_stages.py): every file the globs match (a folder:
every file below it) is read, checked and segmented, and keeps its answer's confidence and a
perceptual hash of its pixels (imagehash's pHash). Then the least confident images are taken in
order, each one skipped when its hash is within --duplicate-bits of an image already taken (a
resized or re-encoded copy, a burst of near-identical frames), until --count are taken. They become
the next span, `span-N+1` of the data root (or --out), in the data set's own layout
(components/example_gen/next_span.py), with `annotation_manifest.jsonl`: one row per file matched,
its confidence and what became of it (selected with its rank, near-duplicate of which, not
selected, error with its reason). A file that cannot be read or segmented is a row, never a failed
job. The Beam stage writes into `span-N+1.scoring/` beside it, removed once the span is written: a
stopped command leaves no half span for the pipeline to read.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any

from models.serving import batch_files

MANIFEST = "annotation_manifest.jsonl"
STAGING = ".scoring"  # span-N.scoring/: the Beam stage's rows, beside the span, never a span
DEFAULT_DUPLICATE_BITS = 8  # of pHash's 64 (docs/serving.md#what-to-annotate-next)


def choose(rows: list[dict[str, Any]], count: int, duplicate_bits: int) -> list[dict[str, Any]]:
    """The rows with a `selection` each (selected, near-duplicate, not selected, error), the
    selected ones least confident first, ranked; a row without a confidence is an error."""
    import imagehash

    scored = [r for r in rows if r["status"] == "ok" and r.get("confidence") is not None]
    scored.sort(key=lambda r: (r["confidence"], r["name"]))
    taken: list[tuple[Any, dict[str, Any]]] = []
    for row in scored:
        if len(taken) == count:
            row["selection"] = "not selected"
            continue
        phash = imagehash.hex_to_hash(row["phash"])
        near = next((t for h, t in taken if phash - h <= duplicate_bits), None)
        if near is not None:
            row.update(selection="near-duplicate", duplicate_of=near["name"])
            continue
        row.update(selection="selected", rank=len(taken) + 1)
        taken.append((phash, row))
    for row in rows:
        if "selection" not in row:
            row["selection"] = "error"
            row["reason"] = row.get("reason") or "the model gave no confidence"
    return sorted(rows, key=lambda r: (r.get("rank") or len(rows) + 1, r["name"]))


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    from core.settings import glue_flag_values

    parser = argparse.ArgumentParser(description="Choose the images to annotate next.")
    parser.add_argument("--model", required=True, help="SavedModel directory (a pushed version)")
    parser.add_argument(
        "--images", required=True, action="append", help="a glob or a folder; repeatable"
    )
    parser.add_argument("--data-root", required=True, help="the data set the span is added to")
    parser.add_argument("--count", type=int, required=True, help="how many images to choose")
    parser.add_argument("--out", help="the span folder (default: the data root's next span-N)")
    parser.add_argument("--duplicate-bits", type=int, default=DEFAULT_DUPLICATE_BITS)
    parser.add_argument("--tile", action="store_true", help="full-resolution overlap-tile")
    parser.add_argument("--max-file-mb", type=float, default=batch_files.DEFAULT_MAX_FILE_MB)
    parser.add_argument(
        "--max-image-megapixels", type=float, default=batch_files.DEFAULT_MAX_MEGAPIXELS
    )
    parser.add_argument("--beam-args", action="append", default=[], help="Beam flags, quoted")
    args = parser.parse_args(glue_flag_values(sys.argv[1:] if argv is None else argv))
    if args.count < 1:
        parser.error(f"--count must be at least 1, got {args.count}")
    if not 0 <= args.duplicate_bits <= 64:
        parser.error(f"--duplicate-bits must be in [0, 64], got {args.duplicate_bits}")
    return args


def main(argv: list[str] | None = None) -> int:
    from startup import console

    console.configure_logging()
    args = _arguments(argv)
    with console.StderrFilter():
        import apache_beam as beam
        import tensorflow as tf
        from apache_beam.options.pipeline_options import PipelineOptions

        from components.example_gen import layouts, next_span
        from models.serving.batch_stages import score
        from models.serving.prediction import load_model

        try:  # fails here, naming the folder, before any work
            spec = layouts.describe(args.data_root)
            span = next_span.new_span_folder(args.data_root, args.out)
        except ValueError as error:
            print(f"petunet: {error}", file=sys.stderr)
            return 2
        load_model(args.model)  # fails here, in one line, if it is no SavedModel
        flags = [word for text in args.beam_args for word in shlex.split(text)]
        limits = {
            "tile": args.tile,
            "max_file_mb": args.max_file_mb,
            "max_megapixels": args.max_image_megapixels,
        }
        staging = span.rstrip("/") + STAGING
        with beam.Pipeline(options=PipelineOptions(flags)) as pipeline:
            patterns = [batch_files.as_pattern(argument) for argument in args.images]
            score(pipeline, args.model, patterns, os.path.join(staging, "scores"), **limits)
        rows = choose(
            batch_files.read_manifest(staging, "scores.jsonl"), args.count, args.duplicate_bits
        )
        chosen = [r for r in rows if r["selection"] == "selected"]
        if not rows:
            tf.io.gfile.rmtree(staging)
            print(f"petunet: no files match {' '.join(args.images)}", file=sys.stderr)
            return 1
        if not chosen:
            batch_files.write_jsonl(os.path.join(staging, MANIFEST), rows)
            print(
                f"petunet: none of {len(rows)} file(s) could be segmented: no span written; "
                f"reasons in {os.path.join(staging, MANIFEST)}",
                file=sys.stderr,
            )
            return 1
        sources = [r["name"] for r in chosen]
        placed = next_span.write_skeleton(spec, args.data_root, span, sources)
        for row, where in zip(chosen, placed, strict=True):
            row.update(image=where.image, mask=where.mask)
        batch_files.write_jsonl(os.path.join(span, MANIFEST), rows)
        tf.io.gfile.rmtree(staging)
    _report(rows, span)
    return 0


def _report(rows: list[dict[str, Any]], span: str) -> None:
    counts = {kind: sum(r["selection"] == kind for r in rows) for kind in
              ("selected", "near-duplicate", "not selected", "error")}  # fmt: skip
    print(
        f"petunet: {len(rows)} file(s): {counts['selected']} to annotate in {span} (masks listed "
        f"in masks_to_draw.txt), {counts['near-duplicate']} near-duplicate(s) skipped, "
        f"{counts['error']} unreadable; confidences in {os.path.join(span, MANIFEST)}"
    )


if __name__ == "__main__":
    import startup

    startup.start(filter_stderr=True, console_logging=True)
    sys.exit(main())
