"""The compiled pipeline made into one PipelineSpec that both Kubeflow backends run.

TFX's KubeflowV2DagRunner compiles the pipeline (schema 2.1.0: parameters as `constant`, which
open-source Kubeflow reads; Vertex AI reads both forms). Four changes follow, each a rule of a
backend:
- a parameter taken from another task's output names that task: TFX 1.16 names it `<id>_task`,
  a task the spec does not have;
- the tasks whose answer is outside their inputs (ServedModel reads the serving directory,
  DataFingerprint the data folder) run uncached: both backends key a task's cache on its inputs;
- the ExampleGen loses TFX's pre-cache-check hook, which open-source Kubeflow never runs: its
  executor resolves the input itself (components/example_gen/inputs.py);
- the document written is the PipelineSpec, which open-source Kubeflow uploads and Vertex AI
  accepts as a template, not the PipelineJob TFX wraps it in.
"""

from __future__ import annotations

from typing import Any

from core import node_ids

UNCACHED_TASKS = (node_ids.SERVED_MODEL, node_ids.DATA_FINGERPRINT)
ENTRYPOINT_COMMAND = ["python", "-m", "pipeline.kubeflow.entrypoint"]


def for_both_backends(job: dict[str, Any], pipeline_root: str | None) -> dict[str, Any]:
    """The PipelineSpec of TFX's compiled PipelineJob `job`, changed as the module says."""
    spec = job["pipelineSpec"]
    tasks = spec["root"]["dag"]["tasks"]
    for task in tasks.values():
        for parameter in task.get("inputs", {}).get("parameters", {}).values():
            source = parameter.get("taskOutputParameter")
            if source and source["producerTask"] not in tasks:
                source["producerTask"] = source["producerTask"].removesuffix("_task")
    for name in UNCACHED_TASKS:
        if name in tasks:
            tasks[name]["cachingOptions"] = {"enableCache": False}
    for executor in spec["deploymentSpec"]["executors"].values():
        executor.get("container", {}).pop("lifecycle", None)
    if pipeline_root:
        spec["defaultPipelineRoot"] = pipeline_root
    return spec
