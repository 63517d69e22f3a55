"""Compiles the petunet pipeline to one pipeline spec (JSON) that Vertex AI Pipelines and
open-source Kubeflow Pipelines v2 both run.

    python kubeflow_v2_runner.py --output petunet_pipeline.json \
        --pipeline-root gs://BUCKET/petunet --image REGION-docker.pkg.dev/PROJECT/REPO/petunet:TAG \
        --data-root gs://BUCKET/oxford-iiit-pet --preset paper

Nothing is uploaded and no cluster is contacted. The spec is a PipelineSpec of schema 2.1.0
(pipeline/kubeflow/spec.py); --pipeline-root is its default root, and a run submitted with another
root writes everything, the serving directory and the Trainer's backups included, under that one.
The data set's description comes from --dataset-json (a local file, so nothing remote is read) or
from the data root (dataset.json, or the Oxford layout), so a wrong one fails here; the ExampleGen
checks the data against it when it runs. Every setting of local_runner.py is accepted, with the same
flags (pipeline/cli.py). User code (Transform's preprocessing_fn, the Trainer's run_fn, the custom
components) is referenced by module path, so the image built from this repository (see README) must
have it on PYTHONPATH; the spec carries no wheel.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import startup
from core import config as configs
from core import errors
from pipeline import cli

DEFAULT_IMAGE = "petunet:latest"


# Under each run's pipeline root unless --serving-model-dir names a folder (core/run_paths.py)
SERVING_MODEL_DIR = "serving_model"
TRAINER_BACKUP_DIR = "trainer_backup"
COMPILE_ROOT = "gs://compile-time-placeholder"  # TFX needs a root; the spec's default is ours


def compile_pipeline(
    config: configs.PipelineConfig,
    data_root: str,
    pipeline_root: str | None,
    image: str,
    output: str,
    vertex_training=None,
    serving_model_dir: str = SERVING_MODEL_DIR,
) -> str:
    """Writes the pipeline spec to `output` and returns its path."""
    from tfx import v1 as tfx

    from pipeline.kubeflow import spec
    from pipeline.pipeline import create_pipeline

    pipeline = create_pipeline(
        config,
        data_root,
        pipeline_root=pipeline_root or COMPILE_ROOT,
        serving_model_dir=serving_model_dir,
        backup_root=TRAINER_BACKUP_DIR,
        vertex_training=vertex_training,
        kubeflow=True,
    )
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=image,
            default_commands=spec.ENTRYPOINT_COMMAND,
            use_pipeline_spec_2_1=True,
        ),
    )
    job = runner.run(pipeline, write_out=False)
    with open(output, "w") as f:
        json.dump(spec.for_both_backends(job, pipeline_root), f, indent=2, sort_keys=True)
    return output


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    spec = parser.add_argument_group("the pipeline spec")
    spec.add_argument("--output", default="petunet_pipeline.json", help="spec file to write")
    spec.add_argument(
        "--pipeline-root",
        help="the spec's default pipeline root, e.g. gs://BUCKET/petunet (a run may give another)",
    )
    spec.add_argument(
        "--serving-model-dir",
        default=SERVING_MODEL_DIR,
        help="where the Pusher writes versions and ServedModel reads the baseline (default: "
        f"{SERVING_MODEL_DIR}/ under the run's pipeline root)",
    )
    spec.add_argument("--image", default=DEFAULT_IMAGE, help="container image with petunet")
    trainer = parser.add_argument_group("the Trainer as a Vertex AI custom training job")
    trainer.add_argument("--trainer-machine-type", help="e.g. n1-standard-8, g2-standard-12")
    trainer.add_argument("--trainer-accelerator", help="TYPE:COUNT per replica, e.g. NVIDIA_L4:1")
    trainer.add_argument("--trainer-replicas", type=int, default=1, help="workers in all")
    trainer.add_argument("--trainer-image", help="the image the Trainer runs (default: --image)")
    trainer.add_argument("--vertex-project", help="GCP project of the training job")
    trainer.add_argument("--vertex-region", default="us-central1", help="its region")
    spec.add_argument(
        "--dataset-json",
        help="the data set's description, read here instead of --data-root: an nnU-Net "
        "dataset.json, the dataset.json petunet writes beside its examples, or `oxford`",
    )
    cli.add_settings(parser)
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return cli.parse(build_parser(), argv)


def _vertex_training(args: argparse.Namespace):
    """The Vertex AI training job the flags ask for, or None (the Trainer in the pipeline's own
    container)."""
    from pipeline.vertex import VertexTraining

    asked = args.trainer_machine_type or args.trainer_accelerator or args.trainer_replicas > 1
    if not asked:
        return None
    if not args.vertex_project:
        raise ValueError("--vertex-project is needed for a Vertex AI training job")
    kind, count = VertexTraining.parse_accelerator(args.trainer_accelerator)
    return VertexTraining(
        project=args.vertex_project,
        region=args.vertex_region,
        image=args.trainer_image or args.image,
        machine_type=args.trainer_machine_type or "n1-standard-8",
        accelerator_type=kind,
        accelerator_count=count,
        replicas=args.trainer_replicas,
    )


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    startup.start(console_logging=True)
    from startup import console

    args = parse_args(argv)
    try:
        if not args.data_root:
            raise ValueError("--data-root is required: the folder the job reads (e.g. gs://...)")
        config = cli.config_from(args, "paper")
        from components.example_gen import layouts

        border_as_ignore = config.data.oxford_border == "ignore"
        if args.dataset_json:
            dataset = layouts.describe_file(args.dataset_json, border_as_ignore)
        else:
            dataset = layouts.describe(config.data.data_root, border_as_ignore)
        config = config.with_dataset(dataset)
        vertex_training = _vertex_training(args)
    except (ValueError, OSError) as error:  # a setting or a description that cannot be compiled
        from pipeline import endings

        ending = endings.classify(errors.SettingProblem(str(error)), None)
        print(f"petunet: {ending.lines[-1]}", file=sys.stderr)
        return ending.code
    with console.StderrFilter():
        path = compile_pipeline(
            config,
            config.data.data_root,
            args.pipeline_root,
            args.image,
            args.output,
            vertex_training,
            args.serving_model_dir,
        )
    print(f"petunet: wrote {path}")
    return errors.EXIT_DONE


if __name__ == "__main__":
    sys.exit(main())
