"""Serving beyond one call: REST answer sizes, concurrent load, and a collection on Beam.

    python -m bench serving_scale                # demo preset network, this machine
    python -m bench serving_scale --images 200 --threads 8 --requests 200
    python -m bench serving_scale --model outputs/serving_model/VERSION   # a trained model

- REST bytes: the JSON TF Serving writes (its rules: tests/tf_serving_rest.py) for predict_image's
  answer now (a PNG per image and the size) against the answer before it was made compact (the same
  PNG plus the dense mask as nested integers), per megapixel of Oxford-like photos.
- Load: `--threads` client threads each sending `--requests` requests of one 500 x 375 JPEG to
  predict_image of one loaded model: p50/p99 latency, images/s, errors.
- A collection: the batch job (models/serving/batch_predict.py) on `--images` generated photos with
  one Beam worker and with two worker processes, beside the one-process CLI on the same folder;
  wall time of each command, start-up included.
Writes outputs/bench/serving_scale.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import tensorflow as tf

from bench.bench_serving import pet, random_network
from bench.machine import describe as describe_machine
from bench.machine import write_results
from bench.paths import run_path
from core import contracts
from models.serving import export
from tests import tf_serving_rest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("serving_scale")


def rest_bytes(served, photos: list[bytes], megapixels: float) -> dict[str, float]:
    images = tf.constant(photos)
    compact = served.signatures[contracts.PREDICT_IMAGE_SIGNATURE](image_bytes=images)
    dense = served.signatures[contracts.PREDICT_IMAGE_MASK_SIGNATURE](image_bytes=images)
    now = {k: v.numpy() for k, v in compact.items()}
    before = {**now, contracts.MASK_OUTPUT_KEY: dense[contracts.MASK_OUTPUT_KEY].numpy()}
    sizes = {
        "after": len(tf_serving_rest.make_response(now, "row").encode()),
        "before": len(tf_serving_rest.make_response(before, "row").encode()),
    }
    request = json.dumps({"instances": [{"image_bytes": {"b64": base64.b64encode(p).decode()}}
                                        for p in photos]})  # fmt: skip
    return {
        "after_bytes_per_megapixel": sizes["after"] / megapixels,
        "before_bytes_per_megapixel": sizes["before"] / megapixels,
        "ratio": sizes["before"] / sizes["after"],
        "request_bytes_per_image": len(request) / len(photos),
    }


def load(served, photo: bytes, threads: int, requests: int) -> dict[str, float]:
    signature = served.signatures[contracts.PREDICT_IMAGE_SIGNATURE]
    batch = tf.constant([photo])
    signature(image_bytes=batch)  # traced before the clock starts
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client() -> None:
        for _ in range(requests):
            started = time.perf_counter()
            try:
                signature(image_bytes=batch)[contracts.MASK_PNG_KEY].numpy()
            except Exception:  # counted: the run must have none
                with lock:
                    errors[0] += 1
                continue
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    pool = [threading.Thread(target=client) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "threads": threads,
        "requests": threads * requests,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "images_per_s": len(latencies) / wall,
        "errors": errors[0],
    }


def collection(model_dir: str, count: int, work: str) -> dict[str, float]:
    folder = os.path.join(work, "photos")
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        with open(os.path.join(folder, f"pet_{i}.jpg"), "wb") as f:
            f.write(pet(300 + (i % 5) * 40, 400, i)[0])

    def timed(*args: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", *args], cwd=ROOT, check=True, capture_output=True)
        return time.perf_counter() - started

    batch = ["models.serving.batch_predict", "--model", model_dir, "--images",
             os.path.join(folder, "*.jpg")]  # fmt: skip
    results = {
        "cli_s": timed(
            "models.serving.predict",
            "--model",
            model_dir,
            "--out",
            os.path.join(work, "cli"),
            folder,
        ),  # fmt: skip
        "beam_1_worker_s": timed(*batch, "--out", os.path.join(work, "b1")),
        "beam_2_workers_s": timed(
            *batch,
            "--out",
            os.path.join(work, "b2"),
            "--beam-args",
            "--direct_running_mode=multi_processing --direct_num_workers=2",
        ),  # fmt: skip
    }
    return {**results, **{k.replace("_s", "_images_per_s"): count / v for k, v in results.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--model", help="a pushed model (a trained one: its masks compress as real answers do); "
        "default: the preset's network with random weights"
    )  # fmt: skip
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="bench_serving_scale_")
    model_dir = args.model or os.path.join(work, "m")
    if not args.model:
        config, model, transform, _ = random_network(args.preset, "bench_serving_scale_")
        export.export_serving_model(model, transform, config.tile_size, model_dir,
                                    config.dataset, 40.0)  # fmt: skip
    served = tf.saved_model.load(model_dir)
    photos = [pet(375, 500, i)[0] for i in range(4)]
    results = {
        "machine": describe_machine(),
        "model": args.model or f"{args.preset} preset, random weights",
        "rest": rest_bytes(served, photos, 4 * 500 * 375 / 1e6),
        "load": load(served, photos[0], args.threads, args.requests),
        "collection": collection(model_dir, args.images, work),
    }
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=1))
    assert results["load"]["errors"] == 0
    write_results(RESULTS, results)
    return 0
