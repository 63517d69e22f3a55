"""ServedModel: the model the serving directory serves now, as a Model artifact: the baseline and
the warm start's base under Kubeflow Pipelines and Vertex AI.

The Pusher writes exactly the models the eval split's Evaluator blessed, each as a new version,
so the newest version is the last model the eval Evaluator blessed: the baseline the local
runner's resolver finds in ML Metadata. Open-source Kubeflow runs no resolver, and Vertex AI's
compiled query cannot tell the eval Evaluator's blessings from the test Evaluator's; reading the
serving directory is the same answer on both. The task runs uncached (kubeflow_v2_runner.py).
With nothing served yet the artifact holds no model and is marked so: the Evaluator then judges
without a baseline, and a warm start trains from scratch.
"""

import os

from absl import logging
from tfx.dsl.io import fileio
from tfx.types.standard_artifacts import Model
from tfx.utils import io_utils, path_utils
from tfx.v1.dsl.components import OutputArtifact, Parameter, component

from components.pusher.executor import versions
from core import node_ids, run_paths

SERVED_VERSION_PROPERTY = "served_version"  # custom property: the version copied ("" if none)


def has_model(model: Model) -> bool:
    """Whether a ServedModel artifact (or any Model) holds a SavedModel."""
    path = path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model))
    return fileio.exists(os.path.join(path, "saved_model.pb"))


@component
def ServedModel(  # a component: named like a class
    model: OutputArtifact[Model],
    serving_model_dir: Parameter[str],
) -> None:
    """Copies the newest version under `serving_model_dir` (relative: under this run's pipeline
    root) into the artifact, where the Evaluator and the Trainer look for a model."""
    base = run_paths.resolve(serving_model_dir, model.uri, node_ids.SERVED_MODEL)
    served = versions(base)
    if not served:
        model.set_string_custom_property(SERVED_VERSION_PROPERTY, "")
        logging.info("ServedModel: nothing served under %s yet: no baseline", base)
        return
    source = os.path.join(base, served[-1])
    io_utils.copy_dir(source, path_utils.serving_model_dir(model.uri))
    model.set_string_custom_property(SERVED_VERSION_PROPERTY, served[-1])
    logging.info("ServedModel: the baseline is %s", source)
