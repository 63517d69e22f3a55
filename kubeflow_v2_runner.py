"""Compiles the petunet pipeline to a Kubeflow Pipelines v2 / Vertex AI pipeline spec (JSON).

    python kubeflow_v2_runner.py --output petunet_pipeline.json \
        --pipeline-root gs://BUCKET/petunet --image REGION-docker.pkg.dev/PROJECT/REPO/petunet:TAG \
        --data-root gs://BUCKET/oxford-iiit-pet --preset paper

Nothing is uploaded and no cluster is contacted; the data root is only read for the data set's
description (dataset.json, or the Oxford layout), so a wrong one fails here. User code
(Transform's preprocessing_fn, the Trainer's run_fn, the custom components) is referenced by module
path, so the image built from this repository (see README) must have it on PYTHONPATH; the
spec carries no wheel.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from models import config as configs  # first: selects Keras 2 before anything loads TensorFlow

DEFAULT_IMAGE = "petunet:latest"


def compile_pipeline(
    config: configs.PipelineConfig,
    data_root: str,
    pipeline_root: str,
    image: str,
    output: str,
) -> str:
    """Writes the KFP v2 pipeline JSON to `output` and returns its path."""
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    pipeline = create_pipeline(
        config,
        data_root,
        pipeline_root=pipeline_root,
        serving_model_dir=os.path.join(pipeline_root, "serving_model"),
        backup_root=os.path.join(pipeline_root, "trainer_backup"),
    )
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=os.path.dirname(os.path.abspath(output)),
        output_filename=os.path.basename(output),
    )
    runner.run(pipeline, write_out=True)
    return output


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    warnings.filterwarnings("ignore", message="You are using a non-supported Python version")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="petunet_pipeline.json", help="spec file to write")
    parser.add_argument("--pipeline-root", required=True, help="e.g. gs://BUCKET/petunet")
    parser.add_argument(
        "--data-root",
        required=True,
        help="the data folder the job reads (nnU-Net layout with dataset.json, or Oxford-IIIT "
        "Pet); read once here for the data set's description",
    )
    parser.add_argument("--oxford-border", choices=("class", "ignore"), default="class")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="container image with petunet")
    parser.add_argument("--preset", default="paper", help=f"one of {sorted(configs.PRESETS)}")
    parser.add_argument("--train-steps", type=int, help="override config.train_steps")
    parser.add_argument("--beam-args", nargs="*", default=[], help="e.g. --runner=DataflowRunner")
    args = parser.parse_args(argv)
    try:
        config = configs.get_config(
            args.preset,
            train_steps=args.train_steps,
            beam_args=tuple(args.beam_args) or configs.PipelineConfig.beam_args,
            oxford_border_as_ignore=args.oxford_border == "ignore",
        )
        from pipeline import data

        config = data.with_dataset(config, args.data_root)
    except (ValueError, OSError) as error:
        print(f"petunet: {error}", file=sys.stderr)
        return 2
    path = compile_pipeline(config, args.data_root, args.pipeline_root, args.image, args.output)
    print(f"petunet: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
