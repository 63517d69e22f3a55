"""The Evaluators of two commits side by side on their own finished runs: TFX's Evaluator executor
timed on each run's model and split, in the same process state, one after the other.

    # a run of each commit on the same data (bench_scale --work), then, for each commit's tree:
    PYTHONPATH=TREE TREE/scripts/uv.sh run python bench/bench_evaluator_runs.py \
        --run RUN_DIR --data-root DATA --label NAME

    # or one tree's two ways, and its kernels, on one run:
    TF_ENABLE_ONEDNN_OPTS=0 python -m bench evaluator_runs --run RUN_DIR --data-root DATA \
        --label eigen-per-pixel --way per_pixel --splits test

Runs with the code of whichever tree is first on PYTHONPATH, so that an older commit's Evaluator
(its export, its EvalConfig) is timed by its own code; it handles the EvalConfig API before and
after the configuration moved into sections. Appends one row per call to
outputs/bench/evaluator_runs.json of this tree (the one the script file lives in).
"""

from __future__ import annotations

import argparse
import glob
import inspect
import json
import os
import tempfile
import time

from bench.paths import run_path

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("evaluator_runs")


def _latest(pattern: str) -> str:
    found = sorted(glob.glob(pattern), key=lambda path: int(os.path.basename(path)))
    if not found:
        raise SystemExit(f"nothing matches {pattern}: is this a finished run's output dir?")
    return found[-1]


def _eval_config(dataset, way: str):
    from models.evaluation import eval_config

    parameters = inspect.signature(eval_config.build_eval_config).parameters
    if "in_graph" in parameters:  # the tree has both ways
        return eval_config.build_eval_config(
            eval_config.REPORT_ONLY, dataset, in_graph=way == "in_graph"
        )
    if way != "tree":
        raise SystemExit(f"--way {way}: this tree's Evaluator has one way only (--way tree)")
    if "evaluation" in parameters:  # the sectioned configuration
        return eval_config.build_eval_config(eval_config.REPORT_ONLY, dataset)
    return eval_config.build_eval_config(0.0, 0.0, -1e-10, dataset=dataset)


def evaluate(run_dir: str, data_root: str, split: str, out: str, way: str) -> dict:
    """TFX's Evaluator executor on the run's model and ExampleGen output; seconds and metrics."""
    from tfx.components.evaluator import executor as evaluator_executor
    from tfx.types import artifact_utils, standard_artifacts
    from tfx.types import standard_component_specs as specs
    from tfx.utils import json_utils, proto_utils

    from components.example_gen import layouts

    root = os.path.join(run_dir, "pipeline_root")
    examples = standard_artifacts.Examples()
    examples.uri = _latest(os.path.join(root, "SegmentationExampleGen", "examples", "*"))
    examples.split_names = artifact_utils.encode_split_names(["train", "eval", "test"])
    examples.set_string_custom_property("payload_format", "FORMAT_TF_EXAMPLE")
    model = standard_artifacts.Model()
    model.uri = _latest(os.path.join(root, "Trainer", "model", "*"))
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = os.path.join(out, "evaluation")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = os.path.join(out, "blessing")
    os.makedirs(blessing.uri, exist_ok=True)
    config = _eval_config(layouts.describe(data_root), way)
    started = time.perf_counter()
    evaluator_executor.Executor().Do(
        {specs.EXAMPLES_KEY: [examples], specs.MODEL_KEY: [model]},
        {specs.EVALUATION_KEY: [evaluation], specs.BLESSING_KEY: [blessing]},
        {
            specs.EVAL_CONFIG_KEY: proto_utils.proto_to_json(config),
            specs.EXAMPLE_SPLITS_KEY: json_utils.dumps([split]),
            specs.MODULE_PATH_KEY: "models.evaluation.extractors",
        },
    )
    seconds = time.perf_counter() - started
    import tensorflow_model_analysis as tfma

    result = tfma.load_metrics(evaluation.uri)
    overall = next(metrics for metrics in result if not metrics.slice_key.single_slice_keys)
    values = {
        key.name: entry.double_value.value
        for per_key in overall.metric_keys_and_values
        for key, entry in [(per_key.key, per_key.value)]
    }
    return {"seconds": seconds, "metrics": values}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished run's --output-dir")
    parser.add_argument("--data-root", required=True, help="the data root that run read")
    parser.add_argument("--label", required=True, help="what this row is (e.g. a commit)")
    parser.add_argument("--splits", nargs="+", default=["eval", "test"])
    parser.add_argument(
        "--way", choices=["tree", "in_graph", "per_pixel"], default="tree",
        help="the tree's own Evaluator, or (in a tree that has both) the in-graph counts or the "
        "per-pixel probabilities",
    )  # fmt: skip
    args = parser.parse_args(argv)
    from bench.machine import describe as describe_machine

    row = {
        "label": args.label,
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
        "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", ""),
        "way": args.way,
        "machine": describe_machine(),
        "splits": {},
    }
    for split in args.splits:
        with tempfile.TemporaryDirectory(prefix="bench_evaluator_runs_") as out:
            result = evaluate(args.run, args.data_root, split, out, args.way)
        count = result["metrics"].get("example_count", 0.0)
        result["examples_per_s"] = count / result["seconds"] if result["seconds"] else 0.0
        row["splits"][split] = result
        print(f"{args.label} {split}: {int(count)} examples in {result['seconds']:.1f} s "
              f"({result['examples_per_s']:.1f} examples/s), mean_iou "
              f"{result['metrics'].get('mean_iou', float('nan')):.4f}", flush=True)  # fmt: skip
    rows = []
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            rows = json.load(f)["rows"]
    rows.append(row)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump({"rows": rows}, f, indent=2, sort_keys=True)
    return 0
