"""The Evaluator before and after its confusion matrices moved into the graph: examples/s through
TFMA on the same model and split, and the metrics of both (identical but where float32 rounds two
classes' probabilities to a tie: the per-pixel way takes the first, the in-graph way the larger
logit).

    python -m bench evaluator                       # 300 pets at the paper's tile
    python -m bench evaluator --images 100 --tile 316
    python -m bench evaluator --onednn 0 1          # each way with oneDNN off, then on

Generates pets with the real photographs' size spread, runs the pipeline on them at the given tile
with a tiny network (2 base filters, a few steps: the Evaluator's cost does not depend on the
weights), then runs TFX's Evaluator executor on that run's eval and test splits twice, alternating:
the per-pixel way (`transform_features` labels and `predict_examples` O x O x K probabilities,
counted in NumPy by the metric's combiner) and the in-graph way (the `evaluate` signature's per-
example K x K counts), each Evaluator run in a fresh process with the `--onednn` settings asked
for (TF_ENABLE_ONEDNN_OPTS; TensorFlow leaves oneDNN off on CPUs without AVX512_VNNI, AVX512_BF16,
AVX_VNNI or AMX, and petunet turns it on). The first variant is the baseline of the speedups.
Writes outputs/bench/evaluator.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from bench.machine import describe as describe_machine
from bench.machine import write_results
from bench.paths import run_path
from core import node_ids
from core.config import EvaluationConfig
from models.evaluation import eval_config
from pipeline import run_report
from pipeline.synthetic.pets import generate_synthetic_pets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("evaluator")


def evaluate(nodes: dict, out: str, splits: list[str], in_graph: bool) -> dict:
    """TFX's Evaluator executor on a run's model and examples; the metrics per slice."""
    from tfx.components.evaluator import executor as evaluator_executor
    from tfx.types import artifact_utils, standard_artifacts
    from tfx.types import standard_component_specs as specs
    from tfx.utils import json_utils, proto_utils

    examples = nodes[node_ids.EXAMPLE_GEN].artifact("examples")
    dataset = run_report.examples_dataset(nodes)
    examples_artifact = standard_artifacts.Examples()
    examples_artifact.uri = examples.uri
    examples_artifact.split_names = artifact_utils.encode_split_names(["train", "eval", "test"])
    examples_artifact.set_string_custom_property("payload_format", "FORMAT_TF_EXAMPLE")
    model = standard_artifacts.Model()
    model.uri = nodes[node_ids.TRAINER].artifact("model").uri
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = os.path.join(out, "evaluation")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = os.path.join(out, "blessing")
    os.makedirs(blessing.uri, exist_ok=True)
    config = eval_config.build_eval_config(EvaluationConfig(), dataset, in_graph=in_graph)
    evaluator_executor.Executor().Do(
        {specs.EXAMPLES_KEY: [examples_artifact], specs.MODEL_KEY: [model]},
        {specs.EVALUATION_KEY: [evaluation], specs.BLESSING_KEY: [blessing]},
        {
            specs.EVAL_CONFIG_KEY: proto_utils.proto_to_json(config),
            specs.EXAMPLE_SPLITS_KEY: json_utils.dumps(splits),
            specs.MODULE_PATH_KEY: "models.evaluation.extractors",
        },
    )
    return run_report.slice_metrics(evaluation.uri, dataset=dataset)


def _child(args: argparse.Namespace) -> int:
    """One timed Evaluator run in this process (its oneDNN setting came with its environment)."""
    nodes = run_report.last_run(os.path.join(args.run, "metadata.sqlite"), "petunet")
    started = time.perf_counter()
    found = evaluate(nodes, args.child_out, args.splits, args.way == "in_graph")
    print("RESULT " + json.dumps({"seconds": time.perf_counter() - started, "metrics": found}))
    return 0


def _timed(run: str, out: str, way: str, splits: list[str], onednn: str) -> dict:
    """One Evaluator run in a fresh process with TF_ENABLE_ONEDNN_OPTS=onednn."""
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn}
    command = [sys.executable, "-m", "bench.bench_evaluator", "--run", run, "--child-out", out,
               "--way", way, "--splits", *splits]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{way} ({splits}) failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.split("RESULT ", 1)[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--tile", type=int, default=572)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--onednn", nargs="+", default=["1"], choices=["0", "1"],
        help="TF_ENABLE_ONEDNN_OPTS for the Evaluators (1: what petunet runs on x86-64; 0: "
        "TensorFlow's Eigen kernels); several: each way under each, the first the baseline",
    )  # fmt: skip
    parser.add_argument("--out", default=RESULTS, help="the results' JSON file")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    parser.add_argument("--way", choices=["per_pixel", "in_graph"], help=argparse.SUPPRESS)
    parser.add_argument("--splits", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_out:
        return _child(args)
    work = tempfile.mkdtemp(prefix="bench_evaluator_")
    data = generate_synthetic_pets(os.path.join(work, "pets"), args.images, 0, size_spread="oxford")
    out = os.path.join(work, "run")
    subprocess.run(
        [sys.executable, "local_runner.py", "--preset", "paper", "--data-root", data,
         "--output-dir", out, "--tile-size", str(args.tile), "--base-filters", "2",
         "--train-steps", "5", "--eval-steps", "2", "--checkpoint-every-steps", "5",
         "--mean-iou-threshold", "0", "--min-eval-examples", "1", "--no-report"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    # Each Evaluator run pays a fixed cost (Beam's start, loading the SavedModel, writing the
    # results): timed on the eval split alone and on eval + test, the difference is the cost of
    # the test split's examples alone, what grows with a data set. Every run is a fresh process,
    # so that each can have its own oneDNN setting; the variants alternate within each round.
    runs = {"small": ["eval"], "large": ["eval", "test"]}
    variants = [
        (way, onednn) for onednn in args.onednn for way in ("per_pixel", "in_graph")
    ]  # the first is the baseline
    timings: dict = {(variant, size): [] for variant in variants for size in runs}
    counts, metrics = {}, {}
    for round_ in range(args.rounds):
        for way, onednn in variants:
            for size, splits in runs.items():
                child_out = os.path.join(work, f"{way}{onednn}{size}{round_}")
                found = _timed(out, child_out, way, splits, onednn)
                timings[((way, onednn), size)].append(found["seconds"])
                counts[size] = found["metrics"][""]["example_count"]
                if size == "large":
                    metrics[f"{way}, oneDNN {onednn}"] = found["metrics"][""]
    extra = counts["large"] - counts["small"]
    rows = {}
    for way, onednn in variants:
        small = min(timings[((way, onednn), "small")])
        large = min(timings[((way, onednn), "large")])
        rows[f"{way}, oneDNN {onednn}"] = {
            "seconds_eval": small,
            "seconds_eval_and_test": large,
            "examples_per_s_whole_run": counts["large"] / large,
            "examples_per_s_marginal": extra / (large - small),
        }
    baseline = rows[f"{variants[0][0]}, oneDNN {variants[0][1]}"]
    for row in rows.values():
        row["speedup_marginal"] = (
            row["examples_per_s_marginal"] / baseline["examples_per_s_marginal"]
        )
        row["speedup_whole_run"] = (
            row["examples_per_s_whole_run"] / baseline["examples_per_s_whole_run"]
        )
    # The two ways' metrics under one oneDNN setting: identical but at float32 ties.
    difference = max(
        abs(metrics[f"in_graph, oneDNN {onednn}"][k] - v)
        for onednn in args.onednn
        for k, v in metrics[f"per_pixel, oneDNN {onednn}"].items()
    )
    identical = difference <= 1e-12
    results = {
        "machine": describe_machine(),
        "images": args.images,
        "tile": args.tile,
        "examples": {"eval": counts["small"], "eval_and_test": counts["large"]},
        "baseline": f"{variants[0][0]}, oneDNN {variants[0][1]}",
        "ways": rows,
        "identical_metrics": identical,
        "largest_metric_difference": difference,
        "metrics": metrics,
    }
    for name, row in rows.items():
        print(f"{name:<22} eval {row['seconds_eval']:6.1f} s, eval+test "
              f"{row['seconds_eval_and_test']:6.1f} s: {row['examples_per_s_whole_run']:6.1f} "
              f"examples/s whole, {row['examples_per_s_marginal']:6.1f} marginal "
              f"({row['speedup_marginal']:.2f}x)")  # fmt: skip
    print(f"identical per-pixel and in-graph metrics: {identical} "
          f"(largest difference {difference:.1e})")  # fmt: skip
    write_results(args.out, results)
    return 0
