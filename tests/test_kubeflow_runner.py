"""The Kubeflow Pipelines v2 spec compiles offline and references the user code by module path."""

from __future__ import annotations

import json

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import kubeflow_v2_runner
from components.example_gen.oxford import OXFORD_PETS
from core import config as configs
from core import node_ids
from tests.e2e_runs import ALL_NODES as COMPONENT_IDS


def test_compiled_spec_parses_with_one_task_per_component(tmp_path):
    output = str(tmp_path / "petunet_pipeline.json")
    config = configs.get_config("test").with_dataset(OXFORD_PETS)
    kubeflow_v2_runner.compile_pipeline(
        config, "gs://bucket/pets", "gs://bucket/root", "petunet:test", output
    )
    with open(output) as f:
        text = f.read()
    spec = json_format.Parse(text, pipeline_spec_pb2.PipelineSpec())  # no field unknown
    assert spec.pipeline_info.name == "petunet"
    assert spec.schema_version == "2.1.0" and spec.default_pipeline_root == "gs://bucket/root"
    tasks = set(spec.root.dag.tasks)
    local = COMPONENT_IDS - {node_ids.RESOLVER}
    assert tasks == local | {node_ids.SERVED_MODEL, node_ids.DATA_FINGERPRINT}
    for name in (node_ids.SERVED_MODEL, node_ids.DATA_FINGERPRINT):
        assert not spec.root.dag.tasks[name].caching_options.enable_cache
    assert spec.root.dag.tasks[node_ids.TRAINER].caching_options.enable_cache
    assert "models.transform.preprocessing.preprocessing_fn" in text
    assert "models.training.run_fn.run_fn" in text
    assert "models.evaluation.extractors" in text  # the Evaluators' custom_extractors
    assert "petunet:test" in text
    assert "gs://bucket/pets" in text
    for executor in json.loads(text)["deploymentSpec"]["executors"].values():
        assert executor["container"]["command"] == ["python", "-m", "pipeline.kubeflow.entrypoint"]
        assert "lifecycle" not in executor["container"]


def test_cli_rejects_an_invalid_tile(capsys):
    code = kubeflow_v2_runner.main(
        ["--pipeline-root", "gs://b/r", "--data-root", "gs://b/p", "--preset", "nope"]
    )
    assert code == 2
    assert "--preset 'nope' is unknown" in capsys.readouterr().err


def test_the_trainer_compiles_as_a_vertex_job_with_its_worker_pools(tmp_path):
    output = str(tmp_path / "spec.json")
    code = kubeflow_v2_runner.main(
        ["--output", output, "--pipeline-root", "gs://b/root", "--data-root", "gs://b/pets",
         "--dataset-json", "oxford", "--preset", "test", "--image", "petunet:v1",
         "--trainer-image", "petunet-gpu:v1", "--trainer-machine-type", "g2-standard-12",
         "--trainer-accelerator", "NVIDIA_L4:1", "--trainer-replicas", "3",
         "--vertex-project", "my-project", "--vertex-region", "europe-west4"]
    )  # fmt: skip
    assert code == 0
    with open(output) as f:
        text = f.read()
    spec = json.loads(text)
    executors = spec["deploymentSpec"]["executors"]
    (trainer,) = [e for name, e in executors.items() if name.startswith("Trainer")]
    command = " ".join(trainer["container"]["command"] + trainer["container"].get("args", []))
    assert "google_cloud_ai_platform.trainer.executor" in command
    config = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]["custom_config"]
    custom = json.loads(config["runtimeValue"]["constant"])
    assert custom["ai_platform_enable_vertex"] is True
    assert custom["ai_platform_vertex_region"] == "europe-west4"
    job = custom["ai_platform_training_args"]
    assert job["project"] == "my-project"
    chief, workers = job["job_spec"]["worker_pool_specs"]
    for pool in (chief, workers):
        assert pool["machine_spec"] == {
            "machine_type": "g2-standard-12", "accelerator_type": "NVIDIA_L4",
            "accelerator_count": 1,
        }  # fmt: skip
        assert pool["container_spec"]["image_uri"] == "petunet-gpu:v1"
    assert (chief["replica_count"], workers["replica_count"]) == (1, 2)
    assert "training" in custom and "dataset" in custom  # the Trainer's own sections too


def test_compiling_reads_no_data_root_with_a_local_description(tmp_path):
    description = tmp_path / "dataset.json"
    description.write_text(json.dumps({"channel_names": {"0": "EM"}, "labels": {"background": 0,
                           "cell": 1}, "file_ending": ".png"}))  # fmt: skip
    output = str(tmp_path / "spec.json")
    code = kubeflow_v2_runner.main(
        ["--output", output, "--pipeline-root", "gs://no-such-bucket/root",
         "--data-root", "gs://no-such-bucket/cells", "--dataset-json", str(description),
         "--preset", "test", "--train-steps", "7", "--mean-iou-threshold", "0.3",
         "--beam-args", "--runner=DataflowRunner"]
    )  # fmt: skip
    assert code == 0  # nothing was read from the bucket
    text = open(output).read()
    assert '\\"cell\\": 1' in text or '"cell": 1' in text
    assert "--runner=DataflowRunner" in text


def test_a_wrong_local_description_fails_naming_the_field(tmp_path, capsys):
    description = tmp_path / "dataset.json"
    description.write_text(json.dumps({"channel_names": {"0": "EM"}, "labels": {"cell": 1},
                                       "file_ending": ".png"}))  # fmt: skip
    code = kubeflow_v2_runner.main(
        ["--pipeline-root", "gs://b/r", "--data-root", "gs://b/c", "--dataset-json",
         str(description), "--output", str(tmp_path / "x.json")]
    )  # fmt: skip
    assert code == 2
    assert "`labels` has no 'background' entry" in capsys.readouterr().err
