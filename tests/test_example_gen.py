"""SegmentationExampleGen in a real TFX pipeline, and the schema curation after it.

The pipeline test runs SegmentationExampleGen -> StatisticsGen -> SchemaGen -> SchemaCurator ->
ExampleValidator with LocalDagRunner and in-memory Beam on a small synthetic folder with a few
real-data quirks mixed in.
"""

from __future__ import annotations

import glob
import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx import v1 as tfx

from components.example_gen.component import SegmentationExampleGen
from components.example_gen.layout import split_of
from components.example_gen.oxford import OXFORD_PETS
from components.schema_curator.component import SchemaCurator
from core import contracts
from pipeline.synthetic.pets import generate_synthetic_pets

pytestmark = pytest.mark.xdist_group(name="example_gen")  # one worker runs the shared pipeline
NUM_IMAGES = 30
EVAL_PERCENT = 25


# --- the pipeline --------------------------------------------------------------------------------


def _jpeg_to_png(path: str) -> None:
    """Real-data quirk: PNG bytes in a file named .jpg."""
    image = Image.open(path).convert("RGB")
    image.save(path, format="PNG")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = generate_synthetic_pets(str(tmp_path_factory.mktemp("pets")), NUM_IMAGES, seed=7)
    with open(os.path.join(root, "annotations", "trainval.txt")) as f:
        trainval = [line.split()[0] for line in f]
    with open(os.path.join(root, "annotations", "test.txt")) as f:
        test = [line.split()[0] for line in f]
    # quirks: a truncated image, a missing trimap, PNG bytes named .jpg, a row listed twice, a
    # name listed twice with different ids, a malformed row and a name listed with no files
    with open(os.path.join(root, "images", trainval[0] + ".jpg"), "r+b") as f:
        f.truncate(os.path.getsize(f.name) // 3)
    os.remove(os.path.join(root, "annotations", "trimaps", test[0] + ".png"))
    _jpeg_to_png(os.path.join(root, "images", test[1] + ".jpg"))
    with open(os.path.join(root, "annotations", "test.txt")) as f:
        rows = f.read().splitlines()
    conflicting = rows[3].split()[0] + " 37 2 25"
    with open(os.path.join(root, "annotations", "test.txt"), "a") as f:
        f.write(f"{rows[2]}\n{conflicting}\nghost_cat_9 1 1 1\nbroken_row 3\n")
    return root


@pytest.fixture(scope="module")
def pipeline_outputs(data_root: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work = str(tmp_path_factory.mktemp("pipeline"))
    example_gen = SegmentationExampleGen(
        input_base=data_root, dataset=OXFORD_PETS, eval_percent=EVAL_PERCENT, max_file_mb=64.0
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(  # from train only: eval and test are "new data"
        statistics=statistics_gen.outputs["statistics"],
        infer_feature_shape=True,
        exclude_splits=["eval", "test"],
    )
    curator = SchemaCurator(schema=schema_gen.outputs["schema"])
    validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=curator.outputs["curated_schema"],
    )
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="pet_example_gen_test",
        pipeline_root=os.path.join(work, "root"),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(work, "metadata.sqlite")
        ),
        components=[example_gen, statistics_gen, schema_gen, curator, validator],
        enable_cache=False,
        beam_pipeline_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"],
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)
    root = os.path.join(work, "root")

    def uri(component: str, output: str) -> str:
        (path,) = glob.glob(os.path.join(root, component, output, "*"))
        return path

    return {
        "examples": uri("SegmentationExampleGen", "examples"),
        "statistics": uri("StatisticsGen", "statistics"),
        "schema": uri("SchemaGen", "schema"),
        "curated_schema": uri("SchemaCurator", "curated_schema"),
        "anomalies": uri("ExampleValidator", "anomalies"),
    }


def _read_split(examples_uri: str, split: str) -> list[tf.train.Example]:
    files = sorted(glob.glob(os.path.join(examples_uri, f"Split-{split}", "*.gz")))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(record.numpy()) for record in dataset]


def _feature(example: tf.train.Example, key: str):
    feature = example.features.feature[key]
    if feature.HasField("bytes_list"):
        return feature.bytes_list.value[0]
    return feature.int64_list.value[0]


@pytest.fixture(scope="module")
def report(pipeline_outputs: dict[str, str]) -> dict:
    with open(os.path.join(pipeline_outputs["examples"], "ingest_report.json")) as f:
        return json.load(f)


@pytest.mark.e2e
def test_split_counts_match_the_ingest_report(pipeline_outputs, report, data_root) -> None:
    assert set(report["splits"]) == {"train", "eval", "test"}
    for split, entry in report["splits"].items():
        written = _read_split(pipeline_outputs["examples"], split)
        assert len(written) == entry["ingested"] > 0
        assert entry["listed"] == entry["ingested"] + len(entry["skipped"])
    rows = {}
    for list_file in ("trainval.txt", "test.txt"):
        with open(os.path.join(data_root, "annotations", list_file)) as f:
            rows[list_file] = [line for line in f if line.strip()]
    assert report["listed"] == sum(len(r) for r in rows.values()) == NUM_IMAGES + 4
    assert report["ingested"] + report["skipped"] == report["listed"]
    assert report["ingested"] == NUM_IMAGES - 3  # truncated, no trimap, conflicting ids


@pytest.mark.e2e
def test_report_names_every_skip_with_its_reason(report, data_root) -> None:
    skips = [(s["name"], s["reason"]) for e in report["splits"].values() for s in e["skipped"]]
    skipped = dict(skips)
    with open(os.path.join(data_root, "annotations", "trainval.txt")) as f:
        first_trainval = f.readline().split()[0]
    with open(os.path.join(data_root, "annotations", "test.txt")) as f:
        test = [line.split()[0] for line in f]
    assert sorted(n for n, _ in skips) == sorted(
        [first_trainval, test[0], test[2], test[3], test[3], "ghost_cat_9", "broken_row"]
    )
    assert "truncated" in skipped[first_trainval]
    assert skipped[test[0]] == f"trimap missing: annotations/trimaps/{test[0]}.png"
    assert "listed again in annotations/test.txt" in skipped[test[2]]
    assert "listed 2 times with different ids" in skipped[test[3]]
    assert skipped["ghost_cat_9"] == "image missing: images/ghost_cat_9.jpg"
    assert "malformed list line" in skipped["broken_row"]
    reencoded = [r["name"] for r in report["splits"]["test"]["reencoded"]]
    assert reencoded == [test[1]]


@pytest.mark.e2e
def test_every_example_decodes_to_the_original_pixels(pipeline_outputs, data_root) -> None:
    rows = {}
    for list_file in ("trainval.txt", "test.txt"):
        with open(os.path.join(data_root, "annotations", list_file)) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 4:
                    rows.setdefault(parts[0], (list_file, [int(p) for p in parts[1:]]))
    seen = set()
    for split in ("train", "eval", "test"):
        for example in _read_split(pipeline_outputs["examples"], split):
            name = _feature(example, contracts.NAME_KEY).decode("utf-8")
            list_file, (class_id, species, _) = rows[name]
            expected_split = (
                "test" if list_file == "test.txt" else split_of(name, EVAL_PERCENT, False)
            )
            assert split == expected_split, name
            species_id = _feature(example, contracts.SPECIES_KEY)
            assert (species_id, _feature(example, contracts.BREED_ID_KEY)) == (species, class_id)
            mask = tf.io.decode_png(_feature(example, contracts.MASK_KEY), channels=1)[..., 0]
            trimap_path = os.path.join(data_root, "annotations", "trimaps", f"{name}.png")
            trimap = np.asarray(Image.open(trimap_path))
            assert np.array_equal(mask.numpy(), trimap), name
            image_bytes = _feature(example, contracts.IMAGE_KEY)
            image = tf.io.decode_image(image_bytes, expand_animations=False)
            height = _feature(example, contracts.HEIGHT_KEY)
            width = _feature(example, contracts.WIDTH_KEY)
            assert tuple(image.shape) == (height, width, 3) == trimap.shape + (3,)
            with open(os.path.join(data_root, "images", f"{name}.jpg"), "rb") as f:
                original = np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB"))
            if image_bytes[:4] == b"\x89PNG":
                assert np.array_equal(image.numpy(), original), name  # lossless re-encode
            seen.add(name)
    assert len(seen) == NUM_IMAGES - 3


@pytest.mark.e2e
def test_validator_finds_no_anomalies_in_eval_and_test(pipeline_outputs) -> None:
    for split in ("eval", "test"):
        path = os.path.join(pipeline_outputs["anomalies"], f"Split-{split}", "SchemaDiff.pb")
        with open(path, "rb") as f:
            anomalies = anomalies_pb2.Anomalies.FromString(f.read())
        assert not anomalies.anomaly_info, (split, dict(anomalies.anomaly_info))
        assert not anomalies.HasField("dataset_anomaly_info")


@pytest.mark.e2e
def test_curator_removed_the_name_domain_that_would_flag_new_names(pipeline_outputs) -> None:
    from tfx.utils import io_utils

    def load(key: str) -> schema_pb2.Schema:
        return io_utils.SchemaReader().read(os.path.join(pipeline_outputs[key], "schema.pbtxt"))

    raw, curated = load("schema"), load("curated_schema")
    raw_name = next(f for f in raw.feature if f.name == contracts.NAME_KEY)
    curated_name = next(f for f in curated.feature if f.name == contracts.NAME_KEY)
    assert raw_name.WhichOneof("domain_info") is not None  # SchemaGen made `name` categorical
    assert curated_name.WhichOneof("domain_info") is None
    drift = {contracts.MEAN_INTENSITY_KEY} | {
        contracts.class_share_name(name) for name in ("pet", "background", "border")
    }
    assert {f.name for f in curated.feature} == set(contracts.RAW_FEATURE_KEYS) | drift
    # with SchemaGen's schema the test names (never seen in train) would be anomalies
    import tensorflow_data_validation as tfdv

    stats = tfdv.load_stats_binary(
        os.path.join(pipeline_outputs["statistics"], "Split-test", "FeatureStats.pb")
    )
    assert contracts.NAME_KEY in tfdv.validate_statistics(stats, raw).anomaly_info
