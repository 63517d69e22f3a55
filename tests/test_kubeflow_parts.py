"""The pieces the compiled spec relies on, each alone: paths under the submitted root, the
container entrypoint's repairs, the data fingerprint, the served-model baseline."""

from __future__ import annotations

import json
import os

import pytest
from tfx.components.evaluator import executor as tfx_evaluator
from tfx.types import standard_artifacts

from components.evaluator.component import Executor as EvaluatorExecutor
from components.example_gen.component import SegmentationExampleGen
from components.example_gen.fingerprint import DataFingerprint
from components.example_gen.oxford import OXFORD_PETS
from components.served_model.component import SERVED_VERSION_PROPERTY, ServedModel, has_model
from core import run_paths
from pipeline.kubeflow import entrypoint
from pipeline.synthetic.pets import generate_synthetic_pets

# Output URIs as each backend writes them (see core/run_paths.py for the sources).
KFP_2_1 = "gs://b/root/petunet/0a1b-run/Pusher/pushed_model"
KFP_NOW = "gs://b/root/petunet/0a1b-run/Pusher/3f2c1d/pushed_model"
VERTEX = "gs://b/root/123456789/petunet-20261207/Pusher_8123/pushed_model"


@pytest.mark.parametrize("uri", [KFP_2_1, KFP_NOW, VERTEX])
def test_a_relative_path_lands_under_the_root_the_run_was_submitted_with(uri):
    assert run_paths.pipeline_root_of(uri, "Pusher") == "gs://b/root"
    assert run_paths.resolve("serving_model", uri, "Pusher") == "gs://b/root/serving_model"
    assert run_paths.resolve("gs://x/serving", uri, "Pusher") == "gs://x/serving"
    assert run_paths.resolve("/srv/models", uri, "Pusher") == "/srv/models"


def test_a_uri_without_the_task_folder_fails_naming_both():
    with pytest.raises(ValueError, match="'gs://b/Trainer/model'.*'Pusher'"):
        run_paths.pipeline_root_of("gs://b/Trainer/model", "Pusher")
    with pytest.raises(ValueError, match="no folder of task"):
        run_paths.pipeline_root_of("gs://Pusher/a/b", "Pusher")  # nothing above the two levels


def _invocation(input_type: dict | None) -> str:
    artifact = {"name": "17", "uri": "gs://b/x/examples", "metadata": {"span": 0}}
    if input_type is not None:
        artifact["type"] = input_type
    return json.dumps({
        "inputs": {"artifacts": {"examples": {"artifacts": [artifact]}}},
        "outputs": {"artifacts": {
            "statistics": {"artifacts": [{"name": "statistics", "uri": "gs://b/y"}]},
            "executor-logs": {"artifacts": [{"name": "executor-logs", "uri": "gs://b/z"}]},
        }},
    })  # fmt: skip


INPUTS_SPEC = json.dumps(
    {"artifacts": {"examples": {"artifactType": {"instanceSchema": "title: tfx.Examples\n"}}}}
)


def test_the_entrypoint_types_untyped_inputs_and_drops_the_launchers_log_output():
    repaired = json.loads(entrypoint.repaired_invocation(_invocation(None), INPUTS_SPEC))
    (examples,) = repaired["inputs"]["artifacts"]["examples"]["artifacts"]
    assert examples["type"] == {"instanceSchema": "title: tfx.Examples\n"}
    assert examples["metadata"] == {"span": 0} and examples["name"] == "17"
    assert set(repaired["outputs"]["artifacts"]) == {"statistics"}


def test_the_entrypoint_keeps_a_type_the_backend_gave():
    given = {"schemaTitle": "tfx.Examples"}
    repaired = json.loads(entrypoint.repaired_invocation(_invocation(given), INPUTS_SPEC))
    assert repaired["inputs"]["artifacts"]["examples"]["artifacts"][0]["type"] == given


def test_the_entrypoint_repairs_the_command_line_in_place():
    argv = ["--executor_class_path", "a.B", entrypoint.INVOCATION_FLAG, _invocation(None),
            entrypoint.INPUTS_SPEC_FLAG, INPUTS_SPEC, "--direct_num_workers=1"]  # fmt: skip
    repaired = entrypoint.repaired_argv(argv)
    assert repaired[:3] == argv[:3] and repaired[4:] == argv[4:]
    assert "executor-logs" not in repaired[3]
    with pytest.raises(SystemExit, match="--json_serialized_invocation_args is required"):
        entrypoint.repaired_argv(["--executor_class_path", "a.B"])


def test_the_data_fingerprint_is_the_example_gens_and_follows_a_mask_replaced_in_place(tmp_path):
    root = generate_synthetic_pets(str(tmp_path / "pets"), 3, seed=0)
    gen = SegmentationExampleGen(
        input_base=root, dataset=OXFORD_PETS, eval_percent=20, max_file_mb=64.0
    )
    props = gen.exec_properties

    def fingerprint() -> str:
        return DataFingerprint.test_call(
            input_base=root, input_config=props["input_config"], dataset=props["dataset"]
        )["fingerprint"]

    before = fingerprint()
    assert "split:trimaps,num_files:3" in before
    trimap = os.path.join(root, "annotations", "trimaps", "Abyssinian_1.png")
    with open(trimap, "ab") as f:
        f.write(b"\0")
    assert fingerprint() != before


def _served_model(tmp_path, serving_dir: str) -> standard_artifacts.Model:
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "root" / "petunet" / "run-1" / "ServedModel" / "model")
    os.makedirs(model.uri)
    ServedModel.test_call(model=model, serving_model_dir=serving_dir)
    return model


def test_served_model_copies_the_newest_version_under_the_submitted_root(tmp_path):
    serving = tmp_path / "root" / "serving_model"
    for version, content in (("100", b"old"), ("205", b"new"), (".partial-300", b"half")):
        (serving / version).mkdir(parents=True)
        (serving / version / "saved_model.pb").write_bytes(content)
    model = _served_model(tmp_path, "serving_model")  # relative: under the run's root
    assert model.get_string_custom_property(SERVED_VERSION_PROPERTY) == "205"
    copied = os.path.join(model.uri, "Format-Serving", "saved_model.pb")
    assert open(copied, "rb").read() == b"new"
    assert has_model(model)


def test_with_nothing_served_there_is_no_baseline_and_the_evaluator_judges_without_one(
    tmp_path, monkeypatch
):
    model = _served_model(tmp_path, str(tmp_path / "empty"))
    assert model.get_string_custom_property(SERVED_VERSION_PROPERTY) == ""
    assert not has_model(model)
    seen = {}
    monkeypatch.setattr(tfx_evaluator.Executor, "Do", lambda self, i, o, e: seen.update(i))
    EvaluatorExecutor().Do({"baseline_model": [model], "model": []}, {}, {})
    assert seen["baseline_model"] == []
