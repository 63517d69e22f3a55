"""Runs the petunet pipeline with TFX's LocalDagRunner (Beam DirectRunner by default).

    python local_runner.py                         # demo preset on generated synthetic pets
    python local_runner.py --data-root PETS_DIR    # the real Oxford-IIIT Pet folder
    python local_runner.py --data-root NNUNET_DIR  # any data set described by a dataset.json
    python local_runner.py --synthetic cells       # generated touching cells (nnU-Net layout)
    python local_runner.py --preset test --train-steps 5 --beam-args --direct_num_workers=2

Wrong inputs (missing folder, unknown preset, invalid tile) fail here, before any component runs.
At the end it prints the evaluation metrics, whether the model was blessed and where it was pushed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

import startup
from core import config as configs
from core import contracts, errors
from core.contracts import EXAMPLE_COUNT_NAME
from core.settings import SettingError
from pipeline import cli


def build_parser() -> argparse.ArgumentParser:
    from pipeline import endings

    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="exit codes: " + "; ".join(f"{code} {what}" for code, what in endings.EXIT_CODES),
    )
    cli.add_settings(parser)
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return cli.parse(build_parser(), argv)


def build_config(args: argparse.Namespace) -> configs.PipelineConfig:
    """The preset (the demo without --preset), the overrides and the paths; raises ValueError
    with the reason if invalid."""
    return cli.config_from(args, args.preset or "demo")


def run(config: configs.PipelineConfig, data_root: str, started: float) -> dict:
    """Runs the pipeline and returns this run's summary (states, metrics, blessing, push)."""
    from tfx import v1 as tfx

    from pipeline import pipeline, run_report
    from startup import patches

    patches.apply((patches.LOCAL_CACHE_KEY,))
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(
        config.run.metadata_path
    )
    tfx.orchestration.LocalDagRunner().run(
        pipeline.create_pipeline(config, data_root, metadata_connection_config=metadata)
    )
    return run_report.summarize(config.run.metadata_path, config.run.pipeline_name, since=started)


def _metric(name: str, value: float) -> str:
    """A score to three decimals; a count (TFMA reports them as floats) as a whole number."""
    return f"{name} {int(value)}" if name == EXAMPLE_COUNT_NAME else f"{name} {value:.3f}"


def format_summary(summary: dict, seconds: float) -> str:
    lines = [f"petunet: pipeline finished in {seconds:.0f} s"]
    for split in ("eval", "test"):
        metrics = summary.get(f"{split}_metrics") or {}
        scores = {
            k: v for k, v in metrics.items() if not k.startswith(contracts.CONFIDENCE_METRIC_PREFIX)
        }
        if scores:
            shown = ", ".join(_metric(k, v) for k, v in sorted(scores.items()))
            lines.append(f"  {split} split: {shown}")
        if contracts.CONFIDENCE_SPEARMAN_NAME in metrics:
            lines.append(
                f"    confidence: Spearman {metrics[contracts.CONFIDENCE_SPEARMAN_NAME]:.2f} with "
                "each image's mean IoU; least confident tenth "
                f"{metrics[contracts.CONFIDENCE_LOWEST_TENTH_NAME]:.3f} against "
                f"{metrics[contracts.CONFIDENCE_REST_NAME]:.3f} for the rest"
            )
        for name, values in sorted((summary.get(f"{split}_slices") or {}).items()):
            shown = ", ".join(
                _metric(k, values[k]) for k in ("mean_iou", "example_count") if k in values
            )
            lines.append(f"    {name}: {shown}")
    training = summary.get("training") or {}
    if training:
        start = training.get("warm_start_from")
        lines.append(
            f"  trained: {training.get('steps')} steps on {training.get('device')} "
            f"({training.get('replicas')} replica(s), {training.get('workers')} worker(s)), "
            + (f"warm-started from {start}" if start else "from scratch")
        )
    spans = summary.get("spans")
    if spans:
        lines.append(f"  span {spans['ingested']} ingested; trained on spans {spans['trained_on']}")
    lines.append(f"  blessed: {'yes' if summary['blessed'] else 'no'}")
    if summary["pushed"]:
        lines.append(f"  pushed to: {summary['pushed_to']}")
    elif summary.get("already_serving"):
        lines.append(f"  pushed: no, this model already serves as {summary['already_serving']}")
    else:
        lines.append("  pushed to: not pushed")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # before TensorFlow loads
    startup.start(console_logging=True)
    from pipeline import endings, workspace

    endings.raise_on_signals()
    args = parse_args(argv)
    try:
        config = build_config(args)
    except ValueError as error:
        return _end(None, errors.SettingProblem(str(error)), log=False)
    try:
        with workspace.RunLock(config.run.output_dir):
            return _run_locked(config)
    except workspace.OutputDirBusy as error:
        return _end(config, error, log=False)
    except (KeyboardInterrupt, errors.Terminated) as error:  # before or after the run proper
        return _end(config, error)


def _end(config: configs.PipelineConfig | None, error: BaseException, log: bool = True) -> int:
    """Prints how the run ended through the one classifier (pipeline/endings.py): one line, the
    traceback in the run's log (none for a refusal before any work: its line says all), and
    returns the exit code."""
    import traceback

    from pipeline import endings
    from startup import console

    endings.interrupt_caught()  # the run ends here: a second delivery would cut this short
    ending = endings.classify(error, console.running_component())
    path = endings.write_log(config.run.output_dir, error) if log and config else None
    if ending.bug or (config and config.run.debug):
        traceback.print_exception(type(error), error, error.__traceback__)
    *lines, last = ending.lines
    for line in lines:
        print(f"petunet: {line}", file=sys.stderr)
    print(f"petunet: {last}" + (f" (details: {path})" if path else ""), file=sys.stderr)
    return ending.code


def _run_locked(config: configs.PipelineConfig) -> int:
    from pipeline import data, workspace
    from startup import console

    try:  # a description that cannot be right ends the run here, before any component runs
        data_root = data.resolve_data_root(config)
        config = data.with_dataset(config, data_root)
    except SettingError as error:
        return _end(config, error, log=False)
    except ValueError as error:
        return _end(config, errors.DataProblem(str(error)), log=False)
    except Exception as error:
        return _end(config, error)
    started = time.time()
    try:
        with console.StderrFilter():
            for path in workspace.remove_leftovers(config):
                logging.info("petunet: removed %s, left behind by a run that stopped midway", path)
            summary = run(config, data_root, started)
        seconds = time.time() - started
        print(format_summary(summary, seconds))
        workspace.write_atomically(
            os.path.join(config.run.output_dir, "run_summary.json"),
            json.dumps(summary, indent=2, default=str),
        )
        if config.run.report:
            with console.StderrFilter():
                from pipeline.report.build import write_report

                report = write_report(config, summary, data_root, seconds, started)
            print(f"  report: {report}")
    except Exception as error:
        return _end(config, error)
    return errors.EXIT_DONE


if __name__ == "__main__":
    sys.exit(main())
