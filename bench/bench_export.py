"""The SavedModel export's fixed cost: seconds to export the ten signatures, seconds to load the
result (what each Evaluator, the Pusher's check and TF Serving pay), and the functions it holds.

    python -m bench export                       # 8 base filters at the paper's 572 tile
    python -m bench export --tile 316            # the demo's tile
    python -m bench export --precision mixed_bfloat16   # as the Trainer exports on bf16 CPUs

Runs the pipeline on a few generated pets at the tile for its Transform output (the export needs
the Transform graph), then exports a fresh network of the given width and times it. Writes
outputs/bench/export.json.
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
from bench.paths import run_path
from core import node_ids
from pipeline import run_report
from pipeline.synthetic.pets import generate_synthetic_pets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("export")


def _functions(export_dir: str) -> int:
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return len(proto.meta_graphs[0].graph_def.library.function)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile", type=int, default=572)
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--precision", default="float32", choices=("float32", "mixed_bfloat16"),
        help="the network's policy; mixed_bfloat16 makes the export build its float32 twin",
    )  # fmt: skip
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="bench_export_")
    data = generate_synthetic_pets(os.path.join(work, "pets"), 20, 0)
    out = os.path.join(work, "run")
    subprocess.run(
        [sys.executable, "local_runner.py", "--preset", "test", "--data-root", data,
         "--output-dir", out, "--tile-size", str(args.tile), "--depth", str(args.depth),
         "--base-filters", "2", "--train-steps", "2", "--checkpoint-every-steps", "2",
         "--no-report"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    import tensorflow as tf
    import tensorflow_transform as tft

    from models.network.unet import build_unet
    from models.serving.export import export_serving_model

    nodes = run_report.last_run(os.path.join(out, "metadata.sqlite"), "petunet")
    dataset = run_report.examples_dataset(nodes)
    transform = tft.TFTransformOutput(nodes[node_ids.TRANSFORM].artifact("transform_graph").uri)
    exports, loads = [], []
    for round_ in range(args.rounds):
        network = build_unet(
            args.tile, args.depth, args.filters, dataset.num_channels,
            num_classes=dataset.num_classes, input_dtype="uint8", dtype_policy=args.precision,
        )  # fmt: skip
        destination = os.path.join(work, f"export{round_}")
        started = time.perf_counter()
        export_serving_model(network, transform, args.tile, destination, dataset, 4.0)
        exports.append(time.perf_counter() - started)
        started = time.perf_counter()
        loaded = tf.saved_model.load(destination)
        loads.append(time.perf_counter() - started)
        del loaded
    results = {
        "machine": describe_machine(),
        "tile": args.tile,
        "base_filters": args.filters,
        "depth": args.depth,
        "precision": args.precision,
        # The first export in a process is what the Trainer pays; later ones reuse caches.
        "export_seconds_first": exports[0],
        "export_seconds_repeat": min(exports[1:] or exports),
        "load_seconds": min(loads),
        "functions": _functions(destination),
    }
    print(f"export {results['export_seconds_first']:.1f} s (again "
          f"{results['export_seconds_repeat']:.1f} s), load {results['load_seconds']:.1f} s, "
          f"{results['functions']} functions in the SavedModel")  # fmt: skip
    write_results(RESULTS, results)
    return 0
