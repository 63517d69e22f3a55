"""The ExampleGen component, driver and executor without a pipeline, and the schema curation."""

from __future__ import annotations

import glob
import json
import os

import pytest
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.types import standard_artifacts

from components.example_gen.component import SegmentationExampleGen
from components.example_gen.driver import ExampleGenDriver
from components.example_gen.executor import Executor
from components.example_gen.oxford import OXFORD_PETS
from components.schema_curator.curate import complete_value_domain, strip_value_domains
from pipeline.synthetic.pets import generate_synthetic_pets

# --- schema curation -----------------------------------------------------------------------------


def test_strip_value_domains_removes_identifier_domains_only() -> None:
    schema = schema_pb2.Schema()
    name = schema.feature.add(name="name", type=schema_pb2.BYTES, domain="name")
    schema.string_domain.add(name="name", value=["a_1", "b_2"])
    inline = schema.feature.add(name="tag", type=schema_pb2.BYTES)
    inline.string_domain.value.extend(["x", "y"])
    kept = schema.feature.add(name="colour", type=schema_pb2.BYTES, domain="colour")
    schema.string_domain.add(name="colour", value=["red"])
    schema.feature.add(name="height", type=schema_pb2.INT)

    changed = strip_value_domains(schema, ["name", "tag", "height"])

    assert changed == ["name", "tag"]
    assert name.WhichOneof("domain_info") is None and inline.WhichOneof("domain_info") is None
    assert kept.domain == "colour"
    assert [d.name for d in schema.string_domain] == ["colour"]
    assert [f.name for f in schema.feature] == ["name", "tag", "colour", "height"]


def test_shared_domain_stays_while_referenced() -> None:
    schema = schema_pb2.Schema()
    schema.feature.add(name="name", type=schema_pb2.BYTES, domain="shared")
    schema.feature.add(name="other", type=schema_pb2.BYTES, domain="shared")
    schema.string_domain.add(name="shared", value=["v"])
    assert strip_value_domains(schema, ["name"]) == ["name"]
    assert [d.name for d in schema.string_domain] == ["shared"]


def test_a_known_category_gets_all_its_values() -> None:
    schema = schema_pb2.Schema()
    size = schema.feature.add(name="object_size", type=schema_pb2.BYTES)
    size.string_domain.value.extend(["small", "medium"])  # the train split had no large pet
    assert complete_value_domain(schema, "object_size", ["small", "medium", "large"])
    assert list(size.string_domain.value) == ["small", "medium", "large"]
    assert not complete_value_domain(schema, "species", ["1", "2"])


# --- component and executor without a pipeline ---------------------------------------------------


def _example_gen(root: str, eval_percent: int = 20) -> SegmentationExampleGen:
    return SegmentationExampleGen(
        input_base=root, dataset=OXFORD_PETS, eval_percent=eval_percent, max_file_mb=64.0
    )


def test_component_carries_eval_percent_and_three_splits(tmp_path) -> None:
    gen = _example_gen(str(tmp_path), eval_percent=30)
    assert gen.exec_properties["eval_percent"] == 30
    assert gen.exec_properties["input_base"] == str(tmp_path)
    splits = json.loads(gen.exec_properties["input_config"])["splits"]
    assert [(s["name"], s["pattern"]) for s in splits] == [
        ("train", "annotations/trainval.txt"),
        ("eval", "annotations/trainval.txt"),
        ("test", "annotations/test.txt"),
    ]
    assert "examples" in gen.outputs
    with pytest.raises(ValueError, match=r"--eval-percent must be in \[1, 49\]"):
        _example_gen(str(tmp_path), eval_percent=0)


def _run_executor(data_root: str, out: str) -> None:
    gen = _example_gen(data_root)
    props = dict(gen.exec_properties)
    examples = standard_artifacts.Examples()
    examples.uri = out
    Executor().Do({}, {"examples": [examples]}, props)


def test_executor_fails_on_a_folder_that_is_not_the_layout(tmp_path) -> None:
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"missing .*annotations.*trainval\.txt"):
        _run_executor(str(data), str(tmp_path / "out"))
    (data / "annotations" / "trimaps").mkdir(parents=True)
    (data / "annotations" / "trainval.txt").write_text("")
    (data / "annotations" / "test.txt").write_text("#header only\n")
    with pytest.raises(ValueError, match="without any example rows.*trainval.txt.*test.txt"):
        _run_executor(str(data), str(tmp_path / "out"))
    assert not glob.glob(str(tmp_path / "out" / "**" / "*.gz"), recursive=True)


def test_driver_fingerprint_covers_images_and_trimaps(tmp_path) -> None:
    root = generate_synthetic_pets(str(tmp_path / "pets"), 3, seed=0)
    gen = _example_gen(root)
    driver = ExampleGenDriver(metadata_handle=None)

    def fingerprint() -> str:
        props = dict(gen.exec_properties)
        return driver.resolve_exec_properties(props, None, None)["input_fingerprint"]

    before = fingerprint()
    assert "split:images,num_files:3" in before and "split:trimaps,num_files:3" in before
    with open(os.path.join(root, "images", "Abyssinian_1.jpg"), "ab") as f:
        f.write(b"\0")  # an image changed in place; the list files did not change
    assert fingerprint() != before
