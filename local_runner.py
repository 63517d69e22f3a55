"""Runs the petunet pipeline with TFX's LocalDagRunner (Beam DirectRunner by default).

    python local_runner.py                         # demo preset on generated synthetic pets
    python local_runner.py --data-root PETS_DIR    # the real Oxford-IIIT Pet folder
    python local_runner.py --data-root NNUNET_DIR  # any data set described by a dataset.json
    python local_runner.py --synthetic cells       # generated touching cells (nnU-Net layout)
    python local_runner.py --preset test --train-steps 5 --beam-args "--direct_num_workers=2"

Wrong inputs (missing folder, unknown preset, invalid tile) fail here, before any component runs.
At the end it prints the evaluation metrics, whether the model was blessed and where it was pushed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time

from models import config as configs  # first: selects Keras 2 before anything loads TensorFlow

# Command-line overrides: flag -> (config field, type).
OVERRIDES = {
    "--train-steps": ("train_steps", int),
    "--eval-steps": ("eval_steps", int),
    "--batch-size": ("batch_size", int),
    "--tile-size": ("tile_size", int),
    "--depth": ("depth", int),
    "--base-filters": ("base_filters", int),
    "--learning-rate": ("learning_rate", float),
    "--optimizer": ("optimizer", str),
    "--lr-schedule": ("lr_schedule", str),
    "--precision": ("precision", str),
    "--jit-compile": ("jit_compile", str),
    "--num-images": ("synthetic_num_images", int),
    "--seed": ("synthetic_seed", int),
    "--eval-percent": ("eval_percent", int),
    "--mean-iou-threshold": ("mean_iou_threshold", float),
    "--foreground-iou-threshold": ("foreground_iou_threshold", float),
    "--checkpoint-every-steps": ("checkpoint_every_steps", int),
    "--steps-per-execution": ("steps_per_execution", int),
    "--border-max-objects": ("border_max_objects", int),
    "--max-file-mb": ("max_file_mb", float),
    "--max-image-megapixels": ("max_image_megapixels", float),
    "--max-skipped-percent": ("max_skipped_percent", float),
    "--min-eval-examples": ("min_eval_examples", int),
}
ALIASES = {"--foreground-iou-threshold": ["--pet-iou-threshold"]}  # the Oxford name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-root",
        help="a data folder: nnU-Net layout with dataset.json, or Oxford-IIIT Pet "
        "(default: a generated synthetic set)",
    )
    parser.add_argument(
        "--synthetic", choices=configs.SYNTHETIC_SETS, help="the set generated without --data-root"
    )
    parser.add_argument(
        "--oxford-border",
        choices=("class", "ignore"),
        default="class",
        help="Oxford trimaps: the border band is a class (default) or weighs nothing",
    )
    parser.add_argument(
        "--no-border-weight", action="store_true", help="the loss without the paper's border term"
    )
    parser.add_argument(
        "--allow-anomalies", action="store_true", help="train even when ExampleValidator objects"
    )
    parser.add_argument("--no-report", action="store_true", help="skip writing report.html")
    parser.add_argument("--output-dir", default="outputs", help="pipeline root, metadata, models")
    parser.add_argument("--preset", default="demo", help=f"one of {sorted(configs.PRESETS)}")
    parser.add_argument("--beam-args", default="", help='extra Beam flags, e.g. "--runner=..."')
    parser.add_argument("--no-cache", action="store_true", help="re-run every component")
    for flag, (field, kind) in OVERRIDES.items():
        names = [flag, *ALIASES.get(flag, [])]
        parser.add_argument(*names, dest=field, type=kind, help=f"override config.{field}")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> configs.PipelineConfig:
    """The preset, the overrides and the paths; raises ValueError with the reason if invalid."""
    overrides = {field: getattr(args, field) for field, _ in OVERRIDES.values()}
    beam_args = configs.PipelineConfig.beam_args
    if args.beam_args:
        beam_args = (*configs.PipelineConfig.beam_args, *shlex.split(args.beam_args))
    return configs.get_config(
        args.preset,
        output_dir=os.path.abspath(args.output_dir),
        data_root=os.path.abspath(args.data_root) if args.data_root else None,
        beam_args=beam_args,
        enable_cache=not args.no_cache,
        synthetic=args.synthetic,
        oxford_border_as_ignore=args.oxford_border == "ignore",
        border_weight=False if args.no_border_weight else None,
        allow_anomalies=True if args.allow_anomalies else None,
        **overrides,
    )


def run(config: configs.PipelineConfig, data_root: str, started: float) -> dict:
    """Runs the pipeline and returns this run's summary (states, metrics, blessing, push)."""
    from tfx import v1 as tfx

    from pipeline import pipeline, run_report

    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
    tfx.orchestration.LocalDagRunner().run(
        pipeline.create_pipeline(config, data_root, metadata_connection_config=metadata)
    )
    return run_report.summarize(config.metadata_path, config.pipeline_name, since=started)


def format_summary(summary: dict, seconds: float) -> str:
    lines = [f"petunet: pipeline finished in {seconds:.0f} s"]
    for split in ("eval", "test"):
        metrics = summary.get(f"{split}_metrics") or {}
        if metrics:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted(metrics.items()))
            lines.append(f"  {split} split: {shown}")
        for name, values in sorted((summary.get(f"{split}_slices") or {}).items()):
            shown = ", ".join(
                f"{k} {values[k]:.3f}" for k in ("mean_iou", "example_count") if k in values
            )
            lines.append(f"    {name}: {shown}")
    lines.append(f"  blessed: {'yes' if summary['blessed'] else 'no'}")
    if summary["pushed"]:
        lines.append(f"  pushed to: {summary['pushed_to']}")
    elif summary.get("already_serving"):
        lines.append(f"  pushed: no, this model already serves as {summary['already_serving']}")
    else:
        lines.append("  pushed to: not pushed")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # before TensorFlow loads (in run())
    from pipeline import console

    console.configure_logging()
    args = parse_args(argv)
    try:
        config = build_config(args)
    except ValueError as error:
        print(f"petunet: {error}", file=sys.stderr)
        return 2
    from components.data_gate.gates import FAILURE_PREFIX
    from pipeline import data, workspace

    try:
        with workspace.RunLock(config.output_dir):
            try:  # data errors end the run here, in one line, before any component runs
                data_root = data.resolve_data_root(config)
                config = data.with_dataset(config, data_root)
            except (ValueError, OSError) as error:
                print(f"petunet: {error}", file=sys.stderr)
                return 2
            started = time.time()
            try:
                with console.StderrFilter():
                    for path in workspace.remove_leftovers(config):
                        logging.info("petunet: removed %s, left behind by a killed run", path)
                    summary = run(config, data_root, started)
            except RuntimeError as error:
                if not str(error).startswith(FAILURE_PREFIX):
                    raise
                for line in str(error).splitlines():  # the run stopped before training
                    print(f"petunet: {line}", file=sys.stderr)
                return 1
            seconds = time.time() - started
            print(format_summary(summary, seconds))
            with open(os.path.join(config.output_dir, "run_summary.json"), "w") as out:
                json.dump(summary, out, indent=2, default=str)
            if not args.no_report:
                with console.StderrFilter():
                    from pipeline.report.build import write_report

                    report = write_report(config, summary, data_root, seconds, started)
                print(f"  report: {report}")
    except workspace.OutputDirBusy as error:
        print(f"petunet: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
