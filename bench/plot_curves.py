"""Training curves of several Trainer runs on one chart (the demo's in docs/PERFORMANCE.md).

    python -m bench.plot_curves --run "deformed=RUN_A/training_log.csv=4640" \\
        --run "flips only=RUN_B/training_log.csv=5970" --out docs/demo_curves.png

Each run is LABEL=PATH[=STEPS]: the `training_log.csv` a Trainer writes in its model run folder
(one row per validation round, every --steps-per-epoch steps) and, optionally, the steps the run
took (its last round is cut short by the time budget). Left: training and validation loss; right:
the validation mean IoU and the IoU of the pets and of the border class.
"""

from __future__ import annotations

import argparse
import csv

import matplotlib

matplotlib.use("Agg")  # no display: draw into a file

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

IOU_KEYS = ("val_mean_iou", "val_pet_iou", "val_border_iou")


def read_log(path: str) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def plot(
    runs: dict[str, tuple[list[dict[str, float]], int | None]], steps_per_epoch: int, out: str
) -> None:
    figure, (loss_axis, iou_axis) = plt.subplots(1, 2, figsize=(11, 4.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (label, (rows, total)), colour in zip(runs.items(), colours, strict=False):
        steps = [(int(r["epoch"]) + 1) * steps_per_epoch for r in rows]
        if total is not None:
            steps = [min(step, total) for step in steps]
        loss_axis.plot(steps, [r["loss"] for r in rows], "-", color=colour, label=f"{label}: loss")
        loss_axis.plot(
            steps, [r["val_loss"] for r in rows], "--", color=colour, label=f"{label}: val_loss"
        )
        for key, marker in zip(IOU_KEYS, "o^v", strict=True):
            iou_axis.plot(
                steps, [r[key] for r in rows], "-", marker=marker, markersize=3, color=colour,
                label=f"{label}: {key.removeprefix('val_')}",
            )  # fmt: skip
    loss_axis.set(title="loss (training on augmented tiles; validation)", xlabel="step")
    iou_axis.set(title="validation IoU", xlabel="step", ylim=(0, 1))
    for axis in (loss_axis, iou_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    figure.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="LABEL=training_log.csv")
    parser.add_argument("--steps-per-epoch", type=int, default=550)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    runs = {}
    for item in args.run:
        label, sep, rest = item.partition("=")
        path, _, steps = rest.partition("=")
        if not sep or (steps and not steps.isdigit()):
            parser.error(f"--run {item!r}: expected LABEL=PATH or LABEL=PATH=STEPS")
        runs[label] = (read_log(path), int(steps) if steps else None)
    plot(runs, args.steps_per_epoch, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
