"""The Kubeflow Pipelines v2 spec compiles offline and references the user code by module path."""

from __future__ import annotations

import json

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import kubeflow_v2_runner
from components.example_gen.oxford import OXFORD_PETS
from models import config as configs
from tests.e2e_runs import ALL_NODES as COMPONENT_IDS


def test_compiled_spec_parses_with_one_task_per_component(tmp_path):
    output = str(tmp_path / "petunet_pipeline.json")
    config = configs.get_config("test").with_dataset(OXFORD_PETS)
    kubeflow_v2_runner.compile_pipeline(
        config, "gs://bucket/pets", "gs://bucket/root", "petunet:test", output
    )
    with open(output) as f:
        text = f.read()
    job = json_format.Parse(text, pipeline_spec_pb2.PipelineJob(), ignore_unknown_fields=True)
    spec = json_format.ParseDict(
        json_format.MessageToDict(job.pipeline_spec), pipeline_spec_pb2.PipelineSpec()
    )
    assert spec.pipeline_info.name == "petunet"
    tasks = set(spec.root.dag.tasks)
    # KFP v2 compiles the LatestBlessedModel resolver into two resolver tasks (model, blessing).
    resolver_tasks = {t for t in tasks if t.startswith("latest_blessed_model_resolver")}
    assert len(resolver_tasks) == 2, tasks
    assert tasks - resolver_tasks == COMPONENT_IDS - {"latest_blessed_model_resolver"}
    assert job.runtime_config.gcs_output_directory == "gs://bucket/root"
    assert "models.transform.preprocessing.preprocessing_fn" in text
    assert "models.training.trainer.run_fn" in text
    assert "models.evaluation.extractors" in text  # the Evaluators' custom_extractors
    assert "petunet:test" in text
    assert "gs://bucket/pets" in text
    assert json.loads(text)["pipelineSpec"]["deploymentSpec"]["executors"]


def test_cli_rejects_an_invalid_tile(capsys):
    code = kubeflow_v2_runner.main(
        ["--pipeline-root", "gs://b/r", "--data-root", "gs://b/p", "--preset", "nope"]
    )
    assert code == 2
    assert "--preset 'nope' is unknown" in capsys.readouterr().err
