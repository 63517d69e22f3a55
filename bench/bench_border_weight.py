"""How many touching cells the model separates, with the paper's border weight (Eq. 2) on and off.

    python -m bench border_weight                       # 200 cells images, 3,000 steps each
    python -m bench border_weight --train-steps 600 --num-images 60     # a quick look

Generates one set of synthetic touching cells (nnU-Net layout, 128 px images so that the demo
canvas does not shrink their 1-2 px gaps), then runs the whole pipeline twice on it with the same
preset and steps, once with `--no-border-weight`. Each trained model segments the test images;
its predicted cell components (4-connected) are matched one-to-one to the true cells at IoU >= 0.5.
A true cell is touching when another true cell lies within 3 px of it; it is separated when a
predicted component matches it. Prints a table and writes outputs/bench/border_weight.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf
from PIL import Image
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from bench.machine import describe as describe_machine
from bench.machine import write_results
from bench.paths import run_path
from core import contracts
from pipeline import run_report
from pipeline.synthetic.cells import CELL, generate_synthetic_cells

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("border_weight")
TOUCH_PX = 3
MATCH_IOU = 0.5


def instances(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of the cell class."""
    return ndimage.label(mask == CELL)


def touching(labels: np.ndarray, count: int) -> set[int]:
    """Cells with another cell within TOUCH_PX pixels."""
    found = set()
    structure = ndimage.generate_binary_structure(2, 1)
    for cell in range(1, count + 1):
        grown = ndimage.binary_dilation(labels == cell, structure, iterations=TOUCH_PX)
        if np.any((labels[grown] != 0) & (labels[grown] != cell)):
            found.add(cell)
    return found


def matched(truth: np.ndarray, n_true: int, predicted: np.ndarray, n_pred: int) -> set[int]:
    """True cells matched one-to-one to a predicted component at IoU >= MATCH_IOU."""
    if not n_true or not n_pred:
        return set()
    pairs = np.stack([truth.ravel(), predicted.ravel()], 1)
    pairs = pairs[(pairs[:, 0] > 0) & (pairs[:, 1] > 0)]
    inter = np.zeros((n_true + 1, n_pred + 1))
    np.add.at(inter, (pairs[:, 0], pairs[:, 1]), 1)
    areas_t = np.bincount(truth.ravel(), minlength=n_true + 1)
    areas_p = np.bincount(predicted.ravel(), minlength=n_pred + 1)
    iou = inter / np.maximum(areas_t[:, None] + areas_p[None, :] - inter, 1)
    rows, cols = linear_sum_assignment(-iou[1:, 1:])
    return {int(r) + 1 for r, c in zip(rows, cols, strict=True) if iou[r + 1, c + 1] >= MATCH_IOU}


def score(model_dir: str, data_root: str) -> dict:
    model = tf.saved_model.load(model_dir)
    predict = model.signatures[contracts.PREDICT_IMAGE_MASK_SIGNATURE]
    totals = {"cells": 0, "touching": 0, "separated": 0, "matched": 0}
    for name in sorted(os.listdir(os.path.join(data_root, "imagesTs"))):
        with open(os.path.join(data_root, "imagesTs", name), "rb") as f:
            image_bytes = f.read()
        truth_mask = np.asarray(Image.open(os.path.join(data_root, "labelsTs",
                                                        name.replace("_0000", ""))))  # fmt: skip
        out = predict(**{contracts.IMAGE_BYTES_INPUT: tf.constant([image_bytes])})
        truth, n_true = instances(truth_mask)
        predicted, n_pred = instances(out[contracts.MASK_OUTPUT_KEY].numpy()[0])
        touch = touching(truth, n_true)
        hits = matched(truth, n_true, predicted, n_pred)
        totals["cells"] += n_true
        totals["touching"] += len(touch)
        totals["separated"] += len(touch & hits)
        totals["matched"] += len(hits)
    return totals


def run_pipeline(data_root: str, out: str, preset: str, steps: int, border: bool, extra) -> str:
    command = [sys.executable, "local_runner.py", "--preset", preset, "--data-root", data_root,
               "--output-dir", out, "--train-steps", str(steps), "--border-max-objects", "32",
               *extra, *([] if border else ["--no-border-weight"])]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True)
    nodes = run_report.last_run(os.path.join(out, "metadata.sqlite"), "petunet")
    return os.path.join(nodes["Trainer"].artifact("model").uri, "Format-Serving")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--num-images", type=int, default=200)
    parser.add_argument("--train-steps", type=int, default=3000)
    parser.add_argument("--size", type=int, default=128, help="side of the square cell images")
    parser.add_argument("--out", default=None, help="working folder (default: a temporary one)")
    parser.add_argument("extra", nargs="*", help="more local_runner.py flags, after --")
    args = parser.parse_args(argv)
    work = args.out or tempfile.mkdtemp(prefix="border_weight_")
    data_root = generate_synthetic_cells(
        os.path.join(work, "cells"), args.num_images, 0, image_size=(args.size, args.size)
    )
    results = {"machine": describe_machine(), "args": vars(args), "runs": {}}
    for border in (True, False):
        label = "border weight on" if border else "border weight off"
        model = run_pipeline(data_root, os.path.join(work, "on" if border else "off"),
                             args.preset, args.train_steps, border, args.extra)  # fmt: skip
        results["runs"][label] = score(model, data_root)
    print(f"{'run':<20} {'test cells':>10} {'touching':>9} {'separated':>10} {'matched':>8}")
    for label, t in results["runs"].items():
        print(f"{label:<20} {t['cells']:>10} {t['touching']:>9} {t['separated']:>10} "
              f"{t['matched']:>8}")  # fmt: skip
    write_results(RESULTS, results)
    return 0
