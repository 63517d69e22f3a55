"""Prediction CLI: segment images with an exported (or pushed) petunet SavedModel.

    python -m models.serving.predict --model serving_model/1700000000 --out predictions IMAGE...

Writes NAME_mask.png (the data set's own label values, e.g. Oxford's 1 pet, 2 background,
3 border; the input's size) and NAME_overlay.png (the image with one colour per class blended in,
and a legend in its corner), and prints one line per image with both paths and the answer's
confidence (its expected mean IoU, 0 to 1). By default an image is resized onto the
model's canvas, as in training (`predict_image` signature). With --tile, large images are
segmented by overlap-tile without resizing (paper, Fig. 2; `predict_image_tiled`): the model
mirror-extends the image, cuts it into T x T tiles whose O x O outputs cover it edge to edge, and
stitches the outputs.
"""

from __future__ import annotations

import argparse
import os
import sys

import startup


def main(argv: list[str] | None = None) -> int:
    from startup import console

    console.configure_logging()
    parser = argparse.ArgumentParser(description="Segment images with a petunet SavedModel.")
    parser.add_argument("--model", required=True, help="SavedModel directory (a pushed version)")
    parser.add_argument("--out", required=True, help="directory for the masks and overlays")
    parser.add_argument(
        "--tile", action="store_true", help="overlap-tile inference without resizing"
    )
    parser.add_argument("images", nargs="+", help="JPEG/PNG/GIF/BMP files, folders or globs")
    args = parser.parse_args(argv)
    with console.StderrFilter():
        return _predict_all(args)


def _predict_all(args: argparse.Namespace) -> int:
    import tensorflow as tf

    from models.serving.prediction import image_paths, load_dataset, load_model, predict_file

    model, spec = load_model(args.model), load_dataset(args.model)
    os.makedirs(args.out, exist_ok=True)
    failures = 0
    paths = image_paths(args.images)
    if not paths:
        print(f"petunet: no images in {' '.join(args.images)}", file=sys.stderr)
        return 1
    for path in paths:
        try:
            mask_path, overlay_path, confidence = predict_file(
                model, spec, path, args.out, args.tile
            )
            told = "" if confidence is None else f", confidence {confidence:.3f}"
            print(f"{path}: {mask_path}, {overlay_path}{told}")
        except (OSError, tf.errors.OpError, RuntimeError) as error:
            failures += 1
            message = getattr(error, "message", str(error)).splitlines()[0]
            print(f"{path}: failed: {message}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    startup.start(filter_stderr=True, console_logging=True)
    sys.exit(main())
