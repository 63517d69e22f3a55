"""Folders that outlive a run (the serving directory, the Trainer's backups), found at run time.

A spec compiled for Kubeflow Pipelines or Vertex AI runs under the pipeline root given when it is
submitted, which the compiler cannot know. Such a folder is compiled as a path relative to that
root and resolved by the task that uses it from one of its own output artifacts' URIs: both
backends write a task's outputs two folders below the root,
`<root>/<pipeline>/<run id>/<task>[/<salt>]/<output>` in Kubeflow Pipelines (its driver's
provisionOutputs) and `<root>/<project number>/<job>/<task>_<id>/<output>` in Vertex AI.
An absolute path (the local runner's, or one a user names) is used as it is.
"""

from __future__ import annotations


def is_absolute(path: str) -> bool:
    return path.startswith("/") or "://" in path


def pipeline_root_of(artifact_uri: str, task_name: str) -> str:
    """The pipeline root of the run that wrote `artifact_uri` as an output of `task_name`."""
    parts = artifact_uri.rstrip("/").split("/")
    for index in range(len(parts) - 1, 2, -1):
        part = parts[index]
        if part == task_name or part.startswith(task_name + "_"):
            root = "/".join(parts[: index - 2])
            if root.rstrip("/").endswith(":") or not root:
                break
            return root
    raise ValueError(
        f"cannot find the pipeline root in {artifact_uri!r}: no folder of task {task_name!r} "
        "two levels below it"
    )


def resolve(path: str, artifact_uri: str, task_name: str) -> str:
    """`path` itself when absolute; otherwise under the run's pipeline root."""
    if is_absolute(path):
        return path
    return pipeline_root_of(artifact_uri, task_name).rstrip("/") + "/" + path
