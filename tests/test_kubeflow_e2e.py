"""The compiled spec runs end to end as each Kubeflow backend runs it (tests/kfp_backend.py): the
first run pushes; the second, with a stricter threshold, is judged against the model the first
pushed and pushes nothing; unchanged data and settings reuse the cached ExampleGen and Trainer."""

from __future__ import annotations

import json
import os

import pytest

import kubeflow_v2_runner
from core import node_ids
from pipeline.synthetic.pets import generate_synthetic_pets
from tests import kfp_backend, kfp_image
from tests.e2e_runs import ROOT

SPEC_TASKS = {
    "DataFingerprint", "SegmentationExampleGen", "StatisticsGen", "SchemaGen", "SchemaCurator",
    "ExampleValidator", "DataGate", "Transform", "Trainer", "ServedModel", "Evaluator",
    "test_evaluator", "Pusher",
}  # fmt: skip
AFTER_THE_MODEL = {"DataFingerprint", "ServedModel", "Evaluator", "Pusher"}  # run again


def _compile(tmp_path, data_root: str, root: str, name: str, *flags: str) -> dict:
    output = str(tmp_path / name)
    code = kubeflow_v2_runner.main(
        ["--output", output, "--pipeline-root", root, "--data-root", data_root,
         "--preset", "test", "--image", "petunet:test", *flags]
    )  # fmt: skip
    assert code == 0
    with open(output) as f:
        return json.load(f)


def _blessing(result, task: str) -> dict:
    return result.outputs[task]["blessing"][0].metadata


def _image(tmp_path) -> tuple[str, dict[str, str]]:
    image_dir = kfp_image.build_image_dir(ROOT, str(tmp_path / "image"))
    env = kfp_image.image_environment(os.path.join(ROOT, "Dockerfile"), image_dir)
    return image_dir, env


@pytest.mark.e2e
@pytest.mark.parametrize(
    "flavor",  # one worker each: the two backends run side by side
    [pytest.param(f, marks=pytest.mark.xdist_group(f"kubeflow-{f}")) for f in kfp_backend.FLAVORS],
)
def test_the_spec_runs_twice_and_the_second_run_is_judged_against_the_first(tmp_path, flavor):
    data_root = generate_synthetic_pets(str(tmp_path / "pets"), 40, seed=3)
    submitted_root = str(tmp_path / "submitted-root")  # not the root compiled into the spec
    first = _compile(tmp_path, data_root, "gs://compiled/root", "first.json")
    stricter = _compile(tmp_path, data_root, "gs://compiled/root", "second.json",
                        "--mean-iou-threshold", "0.99")  # fmt: skip
    assert kfp_backend.submission_errors(first) == []
    image_dir, env = _image(tmp_path)
    backend = kfp_backend.Backend(flavor, image_dir, env, str(tmp_path / "work"))

    one = backend.run(first, submitted_root)
    failed = [t for t, s in one.states.items() if s == kfp_backend.FAILED]
    assert not failed, {t: one.log_tail(t) for t in failed}
    assert set(one.states.values()) == {kfp_backend.SUCCEEDED}, one.states
    assert set(one.states) == SPEC_TASKS
    assert one.outputs["ServedModel"]["model"][0].metadata["served_version"] == ""
    assert _blessing(one, "Evaluator")["blessed"] == 1
    serving = os.path.join(submitted_root, kubeflow_v2_runner.SERVING_MODEL_DIR)
    (version,) = os.listdir(serving)
    assert os.path.isfile(os.path.join(serving, version, "saved_model.pb"))
    assert os.path.isdir(os.path.join(submitted_root, kubeflow_v2_runner.TRAINER_BACKUP_DIR))
    assert not os.path.exists(os.path.join(image_dir, "gs:")), "nothing under the compiled root"

    two = backend.run(stricter, submitted_root)
    ran = {t for t, s in two.states.items() if s == kfp_backend.SUCCEEDED}
    assert ran == AFTER_THE_MODEL, two.states  # data and model reused, test report cached
    served = two.outputs["ServedModel"]["model"][0]
    assert served.metadata["served_version"] == version
    blessing = _blessing(two, "Evaluator")
    assert blessing["blessed"] == 0  # 0.99 is out of reach
    assert blessing["baseline_model"] == served.uri  # judged against the first run's model
    assert two.outputs["Pusher"]["pushed_model"][0].metadata["pushed"] == 0
    assert os.listdir(serving) == [version]


def test_the_checker_refuses_what_open_source_kubeflow_refuses(tmp_path):
    """TFX's own compilation, before the changes pipeline/kubeflow/spec.py makes: a resolver, a
    lifecycle hook, `constantValue` parameters, and a PipelineJob wrapper."""
    from tfx import v1 as tfx

    from components.example_gen.oxford import OXFORD_PETS
    from core import config as configs
    from pipeline.pipeline import create_pipeline

    config = configs.get_config("test").with_dataset(OXFORD_PETS)
    pipeline = create_pipeline(config, "gs://b/pets", pipeline_root="gs://b/root")
    job = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig()
    ).run(pipeline, write_out=False)
    errors = " | ".join(kfp_backend.submission_errors(job))
    assert "a PipelineJob" in errors
    assert "only supports schema version 2.1.0, not 2.0.0" in errors
    assert "resolver executor not implemented" in errors
    assert "lifecycle hook" in errors
    assert "no runtimeValue.constant" in errors
    with pytest.raises(kfp_backend.Refused, match="resolver executor not implemented"):
        kfp_backend.Backend(kfp_backend.KFP, str(tmp_path), {}, str(tmp_path)).run(job)


def test_the_image_environment_follows_the_dockerfile(tmp_path):
    image_dir, env = _image(tmp_path)
    assert env["PYTHONPATH"] == image_dir
    assert env["TF_USE_LEGACY_KERAS"] == "1"
    assert env["PATH"].split(":")[0] == os.path.dirname(os.sys.executable)
    assert os.path.isfile(os.path.join(image_dir, "petunet.py"))
    assert not os.path.exists(os.path.join(image_dir, ".venv"))
    assert not os.path.exists(os.path.join(image_dir, ".git"))
    assert node_ids.SERVED_MODEL in SPEC_TASKS
