"""The Evaluator before and after its confusion matrices moved into the graph: examples/s through
TFMA on the same model and split, and the metrics of both (identical).

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
import json
import os
import subprocess
import sys
import tempfile
import time

from bench.machine import describe as describe_machine
from models.config import EvaluationConfig
from models.dataset import DatasetSpec
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
    with open(os.path.join(examples.uri, "dataset.json")) as f:
        dataset = DatasetSpec.from_json(f.read())
    examples_artifact = standard_artifacts.Examples()
    examples_artifact.uri = examples.uri
    examples_artifact.split_names = artifact_utils.encode_split_names(["train", "eval", "test"])
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
    splits = ["eval", "test"]
    timings: dict[str, list[float]] = {"per_pixel": [], "in_graph": []}
    metrics = {}
    for round_ in range(args.rounds):
        for way in ("per_pixel", "in_graph"):
            started = time.perf_counter()
            found = evaluate(nodes, os.path.join(work, f"{way}{round_}"), splits, way == "in_graph")
            timings[way].append(time.perf_counter() - started)
            metrics[way] = found[""]
    count = metrics["in_graph"]["example_count"]
    rows = {
        way: {"seconds": min(t), "examples_per_s": count / min(t)} for way, t in timings.items()
    }
    identical = all(
        abs(metrics["in_graph"][k] - v) <= 1e-12 for k, v in metrics["per_pixel"].items()
    )
    results = {
        "machine": describe_machine(),
        "images": args.images,
        "tile": args.tile,
        "examples": count,
        "ways": rows,
        "speedup": rows["in_graph"]["examples_per_s"] / rows["per_pixel"]["examples_per_s"],
        "identical_metrics": identical,
        "metrics": metrics,
    }
    for way, row in rows.items():
        print(f"{way:<10} {row['seconds']:8.1f} s  {row['examples_per_s']:6.1f} examples/s")
    print(f"speedup {results['speedup']:.2f}x on {count:.0f} examples; identical: {identical}")
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
