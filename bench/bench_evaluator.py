"""The Evaluator before and after its confusion matrices moved into the graph: examples/s through
TFMA on the same model and split, and the metrics of both (identical but where float32 rounds two
classes' probabilities to a tie: the per-pixel way takes the first, the in-graph way the larger
logit).

    python -m bench.bench_evaluator                       # 300 pets at the paper's tile
    python -m bench.bench_evaluator --images 100 --tile 316

Generates pets with the real photographs' size spread, runs the pipeline on them at the given tile
with a tiny network (2 base filters, a few steps: the Evaluator's cost does not depend on the
weights), then runs TFX's Evaluator executor on that run's eval and test splits twice, alternating:
the per-pixel way (`transform_features` labels and `predict_examples` O x O x K probabilities,
counted in NumPy by the metric's combiner) and the in-graph way (the `evaluate` signature's per-
example K x K counts). Writes bench/results/evaluator.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from bench.machine import describe as describe_machine
from bench.machine import write_results
from models.config import EvaluationConfig
from models.evaluation import eval_config
from pipeline import node_ids, run_report
from pipeline.synthetic.pets import generate_synthetic_pets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results", "evaluator.json")


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--tile", type=int, default=572)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
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
    nodes = run_report.last_run(os.path.join(out, "metadata.sqlite"), "petunet")
    # Each Evaluator run pays a fixed cost (Beam's start, loading the SavedModel, writing the
    # results): timed on the eval split alone and on eval + test, the difference is the cost of
    # the test split's examples alone, what grows with a data set.
    runs = {"small": ["eval"], "large": ["eval", "test"]}
    timings = {(way, size): [] for way in ("per_pixel", "in_graph") for size in runs}
    counts, metrics = {}, {}
    for round_ in range(args.rounds):
        for way in ("per_pixel", "in_graph"):
            for size, splits in runs.items():
                started = time.perf_counter()
                found = evaluate(
                    nodes, os.path.join(work, f"{way}{size}{round_}"), splits, way == "in_graph"
                )
                timings[(way, size)].append(time.perf_counter() - started)
                counts[size] = found[""]["example_count"]
                if size == "large":
                    metrics[way] = found[""]
    extra = counts["large"] - counts["small"]
    rows = {}
    for way in ("per_pixel", "in_graph"):
        small, large = min(timings[(way, "small")]), min(timings[(way, "large")])
        rows[way] = {
            "seconds_eval": small,
            "seconds_eval_and_test": large,
            "examples_per_s_whole_run": counts["large"] / large,
            "examples_per_s_marginal": extra / (large - small),
        }
    difference = max(abs(metrics["in_graph"][k] - v) for k, v in metrics["per_pixel"].items())
    identical = difference <= 1e-12
    results = {
        "machine": describe_machine(),
        "images": args.images,
        "tile": args.tile,
        "examples": {"eval": counts["small"], "eval_and_test": counts["large"]},
        "ways": rows,
        "speedup_marginal": rows["in_graph"]["examples_per_s_marginal"]
        / rows["per_pixel"]["examples_per_s_marginal"],
        "speedup_whole_run": rows["in_graph"]["examples_per_s_whole_run"]
        / rows["per_pixel"]["examples_per_s_whole_run"],
        "identical_metrics": identical,
        "largest_metric_difference": difference,
        "metrics": metrics,
    }
    for way, row in rows.items():
        print(f"{way:<10} eval {row['seconds_eval']:6.1f} s, eval+test "
              f"{row['seconds_eval_and_test']:6.1f} s: {row['examples_per_s_whole_run']:6.1f} "
              f"examples/s whole, {row['examples_per_s_marginal']:6.1f} marginal")  # fmt: skip
    print(f"speedup {results['speedup_marginal']:.2f}x marginal, "
          f"{results['speedup_whole_run']:.2f}x whole runs; identical: {identical} "
          f"(largest difference {difference:.1e})")  # fmt: skip
    write_results(RESULTS, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
