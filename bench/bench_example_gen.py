"""Throughput of the ExampleGen and Transform on generated 500x375 pets (the common Oxford size).

    python -m bench example_gen --num-images 200

Times, on the same folder: the per-example ingest work alone in one Python process (decode,
checks, tf.Example), then the whole executor (Beam pipeline, TFRecord writing, report) on the
DirectRunner in_memory and multi_processing with 2 workers; then tf.Transform's analyze and
transform of what ExampleGen wrote, with petunet's preprocessing_fn at the demo geometry (decode,
resize, mirror-padded tile, label, class counts) on the in_memory DirectRunner, writing TFRecords
as the Transform component does. Prints a table and writes JSON to outputs/bench/example_gen.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence

from bench.machine import describe as describe_machine
from bench.paths import run_path
from components.example_gen import oxford
from components.example_gen.component import SegmentationExampleGen
from components.example_gen.executor import Executor, to_example
from components.example_gen.oxford import OXFORD_PETS
from core.config import TrainerConfig, get_config
from pipeline.synthetic.pets import generate_synthetic_pets

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = run_path("example_gen")
MODES = {
    "in_memory": ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
    "multi_processing_2": ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
}


def _listed(root: str) -> list[oxford.ListEntry]:
    entries = []
    for list_file in (oxford.TRAINVAL_LIST, oxford.TEST_LIST):
        with open(os.path.join(root, list_file)) as f:
            entries += [e for e in map(oxford.parse_list_line, f) if e is not None]
    return entries


def time_ingest_only(root: str) -> dict:
    """The per-example work without Beam: what a worker spends per image."""
    entries = _listed(root)
    oxford.ingest_entry(root, entries[0])  # TensorFlow's first decode loads kernels: not timed
    start = time.perf_counter()
    total_bytes = 0
    for entry in entries:
        result = oxford.ingest_entry(root, entry)
        total_bytes += len(to_example(result).SerializeToString())
    seconds = time.perf_counter() - start
    return {"examples": len(entries), "seconds": seconds, "mb_out": total_bytes / 1e6}


def time_executor(root: str, beam_args: list[str], out_dir: str) -> dict:
    """One full executor run (Beam pipeline start to report check)."""
    from tfx.types import standard_artifacts

    gen = SegmentationExampleGen(input_base=root)
    examples = standard_artifacts.Examples()
    examples.uri = out_dir
    start = time.perf_counter()
    Executor(Executor.Context(beam_pipeline_args=beam_args, tmp_dir=out_dir + "_tmp")).Do(
        {}, {"examples": [examples]}, dict(gen.exec_properties)
    )
    seconds = time.perf_counter() - start
    with open(os.path.join(out_dir, "ingest_report.json")) as f:
        report = json.load(f)
    written = sum(os.path.getsize(p) for p in glob.glob(os.path.join(out_dir, "*", "*.gz")))
    return {"examples": report["ingested"], "seconds": seconds, "mb_out": written / 1e6}


def time_transform(examples_dir: str, out_dir: str, config: TrainerConfig) -> dict:
    """tf.Transform over every split ExampleGen wrote: analyze (class counts) and transform."""
    import apache_beam as beam
    import tensorflow as tf
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import schema_utils
    from tfx_bsl.coders import example_coder
    from tfx_bsl.public import tfxio

    from core import contracts
    from models.transform import preprocessing

    strings = {contracts.IMAGE_KEY, contracts.MASK_KEY, contracts.NAME_KEY}
    spec = {
        key: tf.io.FixedLenFeature([], tf.string if key in strings else tf.int64)
        for key in contracts.RAW_FEATURE_KEYS
    }
    schema = schema_utils.schema_from_feature_spec(spec)
    source = tfxio.TFExampleRecord(os.path.join(examples_dir, "*", "*.gz"), schema=schema)
    custom_config = preprocessing.custom_config(config.transform, config.dataset)

    def fn(inputs):
        return preprocessing.preprocessing_fn(inputs, custom_config)

    start = time.perf_counter()
    with beam.Pipeline(argv=MODES["in_memory"]) as pipeline:
        with tft_beam.Context(temp_dir=out_dir + "_tmp"):
            raw = pipeline | "Read" >> source.BeamSource()
            (transformed, metadata), _ = (
                raw,
                source.TensorAdapterConfig(),
            ) | tft_beam.AnalyzeAndTransformDataset(fn, output_record_batches=True)
            encoder = example_coder.RecordBatchToExamplesEncoder(metadata.schema)
            _ = (
                transformed
                | "Encode" >> beam.FlatMap(lambda batch_extra: encoder.encode(batch_extra[0]))
                | "Write" >> beam.io.WriteToTFRecord(os.path.join(out_dir, "transformed"))
            )
    seconds = time.perf_counter() - start
    written = glob.glob(os.path.join(out_dir, "transformed*"))
    count = sum(1 for path in written for _ in tf.data.TFRecordDataset(path))
    mb_out = sum(os.path.getsize(p) for p in written) / 1e6
    return {"examples": count, "seconds": seconds, "mb_out": mb_out}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-images", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=list(MODES))
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    # multi_processing workers are fresh interpreters: they must find this project's packages
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (PROJECT_ROOT, os.environ.get("PYTHONPATH")) if p
    )

    work = tempfile.mkdtemp(prefix="bench_example_gen_")
    try:
        start = time.perf_counter()
        root = generate_synthetic_pets(
            os.path.join(work, "pets"), args.num_images, args.seed, (375, 500)
        )
        generate_s = time.perf_counter() - start
        input_mb = (
            sum(
                os.path.getsize(p)
                for p in glob.glob(os.path.join(root, "**", "*.*"), recursive=True)
            )
            / 1e6
        )
        rows = {"ingest_only_1_process": time_ingest_only(root)}
        for mode in args.modes:
            rows[f"executor_{mode}"] = time_executor(root, MODES[mode], os.path.join(work, mode))
        if "in_memory" in args.modes:
            rows["transform_in_memory_demo_tile"] = time_transform(
                os.path.join(work, "in_memory"),
                os.path.join(work, "transform"),
                get_config("demo").with_dataset(OXFORD_PETS).trainer(),
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    for row in rows.values():
        row["examples_per_s"] = row["examples"] / row["seconds"]
    result = {
        "image_size": "500x375",
        "num_images": args.num_images,
        "input_mb": round(input_mb, 2),
        "generate_seconds": round(generate_s, 2),
        "machine": describe_machine(),
        "runs": rows,
    }
    print(
        f"{args.num_images} images of 500x375 ({input_mb:.1f} MB), generated in {generate_s:.1f} s"
    )
    print(f"{'run':<32}{'examples':>10}{'seconds':>10}{'ex/s':>10}{'MB out':>10}")
    for name, row in rows.items():
        print(
            f"{name:<32}{row['examples']:>10}{row['seconds']:>10.2f}"
            f"{row['examples_per_s']:>10.1f}{row['mb_out']:>10.1f}"
        )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    return 0
