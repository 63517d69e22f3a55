"""Runs a compiled pipeline spec the way the Kubeflow Pipelines v2 backends run it, on this machine.

Written from the backends' own rules, not from the compiler's output:
- open-source Kubeflow Pipelines (kubeflow/pipelines `backend/src`): the API server accepts only a
  PipelineSpec of schema 2.1.0 with a valid name (`apiserver/template/v2_template.go`); its
  compiler runs container and importer executors only (`v2/compiler/visitor.go`, "resolver
  executors not implemented" in `argocompiler/dag.go`); the driver reads a parameter's
  `runtimeValue.constant` (`v2/driver/resolve.go`), gives input artifacts their MLMD id as name and
  no type (`v2/metadata/converter.go`), writes outputs to
  `<root>/<pipeline>/<run id>/<task>/<salt>/<output>` and adds an `executor-logs` output of type
  `system.Artifact` (`provisionOutputs`), and keys its cache on the input artifacts' names, the
  parameters, the outputs' types, the command and the image (`v2/cacheutils/cache.go`); it runs
  no lifecycle hook;
- Vertex AI Pipelines: outputs under `<root>/<project number>/<job>/<task>_<id>/<output>` (as
  TFX's entrypoint documents), typed input artifacts, `constant` or `constantValue`, resolver
  queries answered from the artifacts of earlier runs, the ExampleGen's pre-cache-check hook run;
- both: `{{$}}` replaced by the task's ExecutorInput, the executor's output file read back.

Each container runs its own command in a subprocess, in a copy of the image's WORKDIR built the
way `docker build` builds it from the Dockerfile (.dockerignore, ENV, WORKDIR); the Python is the
locked environment's, standing in for the image's /opt/venv.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

import yaml

KFP, VERTEX = "kfp", "vertex"
FLAVORS = (KFP, VERTEX)
PROJECT_NUMBER = "123456789"
SUCCEEDED, CACHED, FAILED, SKIPPED = "SUCCEEDED", "CACHED", "FAILED", "SKIPPED"


class Refused(Exception):
    """What a backend answers instead of running the spec."""


# --- Submission: what open-source Kubeflow's API server and compiler refuse ----------------------


def submission_errors(spec: dict[str, Any]) -> list[str]:
    """Why open-source Kubeflow Pipelines would refuse `spec` at upload or compile ([]: none)."""
    errors = []
    if "pipelineSpec" in spec:
        errors.append("a PipelineJob, not a PipelineSpec: the API server finds no pipeline spec")
        spec = spec["pipelineSpec"]
    if spec.get("schemaVersion") != "2.1.0":
        errors.append(f"KFP only supports schema version 2.1.0, not {spec.get('schemaVersion')}")
    name = spec.get("pipelineInfo", {}).get("name", "")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", name):
        errors.append(f"pipeline name {name!r}: lower case alphanumeric characters, '-' or '.'")
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    tasks = spec.get("root", {}).get("dag", {}).get("tasks", {})
    for task_name, task in tasks.items():
        component = spec["components"][task["componentRef"]["name"]]
        executor = executors.get(component.get("executorLabel", ""), {})
        if "container" not in executor and "importer" not in executor:
            errors.append(f"{task_name}: {next(iter(executor), 'no')} executor not implemented")
        if "lifecycle" in executor.get("container", {}):
            errors.append(f"{task_name}: a lifecycle hook, which Kubeflow never runs")
        for pname, parameter in task.get("inputs", {}).get("parameters", {}).items():
            runtime = parameter.get("runtimeValue")
            if runtime is not None and "constant" not in runtime:
                errors.append(
                    f"{task_name}.{pname}: no runtimeValue.constant (Kubeflow reads no other)"
                )
            source = parameter.get("taskOutputParameter")
            if source and source["producerTask"] not in tasks:
                errors.append(
                    f"{task_name}.{pname}: producer task {source['producerTask']!r} missing"
                )
        for aname, artifact in task.get("inputs", {}).get("artifacts", {}).items():
            source = artifact.get("taskOutputArtifact")
            if source and source["producerTask"] not in tasks:
                errors.append(
                    f"{task_name}.{aname}: producer task {source['producerTask']!r} missing"
                )
    return errors


# --- Running -------------------------------------------------------------------------------------


@dataclass
class Artifact:
    id: int
    uri: str
    schema_title: str
    type: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)

    def runtime(self, flavor: str) -> dict[str, Any]:
        """The RuntimeArtifact a downstream task receives."""
        if flavor == KFP:  # converter.go: the MLMD id as name, no type
            return {"name": str(self.id), "uri": self.uri, "metadata": self.metadata}
        store = f"projects/{PROJECT_NUMBER}/locations/us-central1/metadataStores/default"
        name = f"{store}/artifacts/{self.id}"
        return {"name": name, "uri": self.uri, "type": self.type, "metadata": self.metadata}


def schema_title(artifact_type: dict[str, Any]) -> str:
    if "schemaTitle" in artifact_type:
        return artifact_type["schemaTitle"]
    return (yaml.safe_load(artifact_type.get("instanceSchema", "")) or {}).get("title", "")


@dataclass
class RunResult:
    states: dict[str, str]
    outputs: dict[str, dict[str, list[Artifact]]]
    logs: dict[str, str]

    def log_tail(self, task: str, chars: int = 6000) -> str:
        return self.logs.get(task, "")[-chars:]


class Backend:
    """One backend's store of artifacts and cache, over which runs of one spec execute."""

    def __init__(self, flavor: str, image_dir: str, env: dict[str, str], work_dir: str):
        assert flavor in FLAVORS
        self.flavor, self.image_dir, self.env, self.work_dir = flavor, image_dir, env, work_dir
        self.artifacts: list[Artifact] = []
        self.cache: dict[str, tuple[dict[str, list[Artifact]], dict[str, Any]]] = {}
        self.runs = 0
        self.executions = 0

    def _new_artifact(self, uri: str, artifact_type: dict[str, Any], metadata=None) -> Artifact:
        artifact = Artifact(len(self.artifacts) + 1, uri, schema_title(artifact_type),
                            artifact_type, dict(metadata or {}))  # fmt: skip
        self.artifacts.append(artifact)
        return artifact

    def run(self, spec: dict[str, Any], pipeline_root: str | None = None, timeout: float = 900):
        """Runs every task of `spec` in dependency order; a failed task skips what depends on it."""
        if self.flavor == KFP and submission_errors(spec):
            raise Refused("; ".join(submission_errors(spec)))
        self.runs += 1
        root = pipeline_root or spec["defaultPipelineRoot"]
        run_id = f"run-{self.runs}"
        tasks = spec["root"]["dag"]["tasks"]
        result = RunResult({}, {}, {})
        params: dict[str, dict[str, Any]] = {}
        for name in _dependency_order(tasks):
            task = tasks[name]
            upstream = _upstream(task)
            if any(result.states.get(u) not in (SUCCEEDED, CACHED) for u in upstream):
                result.states[name] = SKIPPED
                continue
            component = spec["components"][task["componentRef"]["name"]]
            executor = spec["deploymentSpec"]["executors"][component["executorLabel"]]
            context = _TaskContext(self, spec, name, task, component, root, run_id, result, params)
            if "container" in executor:
                state = context.run_container(executor["container"], timeout)
            elif "importer" in executor:
                state = context.run_importer(executor["importer"])
            elif "resolver" in executor and self.flavor == VERTEX:
                state = context.run_resolver(executor["resolver"])
            else:
                raise Refused(f"{name}: {next(iter(executor))} executor not implemented")
            result.states[name] = state
        return result


def _upstream(task: dict[str, Any]) -> set[str]:
    found = set(task.get("dependentTasks", []))
    inputs = task.get("inputs", {})
    for spec in [*inputs.get("parameters", {}).values(), *inputs.get("artifacts", {}).values()]:
        for key in ("taskOutputParameter", "taskOutputArtifact"):
            if key in spec:
                found.add(spec[key]["producerTask"])
    return found


def _dependency_order(tasks: dict[str, Any]) -> list[str]:
    order: list[str] = []
    pending = dict(sorted(tasks.items()))
    while pending:
        ready = [n for n, t in pending.items() if _upstream(t) <= set(order)]
        if not ready:
            raise Refused(f"tasks wait on each other or on no task: {sorted(pending)}")
        for name in ready:
            order.append(name)
            del pending[name]
    return order


def _constant(runtime: dict[str, Any], flavor: str) -> Any:
    if "constant" in runtime:
        return runtime["constant"]
    if flavor == KFP:
        raise Refused("a runtimeValue without `constant`")
    value = runtime["constantValue"]  # the 2.0.0 form, which Vertex AI still reads
    for key in ("stringValue", "doubleValue"):
        if key in value:
            return value[key]
    return int(value["intValue"])


class _TaskContext:
    def __init__(self, backend, spec, name, task, component, root, run_id, result, params):
        self.backend, self.spec, self.name, self.task = backend, spec, name, task
        self.component, self.root, self.run_id = component, root, run_id
        self.result, self.params = result, params
        self.flavor = backend.flavor
        backend.executions += 1
        if self.flavor == KFP:
            pipeline = spec["pipelineInfo"]["name"]
            self.task_root = f"{root}/{pipeline}/{run_id}/{name}/salt{backend.executions}"
            self.output_file = f"{self.task_root}/output_metadata.json"
        else:
            self.task_root = f"{root}/{PROJECT_NUMBER}/petunet-{run_id}/{name}_{backend.executions}"
            self.output_file = f"{self.task_root}/executor_output.json"

    def _input_parameters(self) -> dict[str, Any]:
        values = {}
        root_inputs = self.spec["root"].get("inputDefinitions", {}).get("parameters", {})
        for pname, parameter in self.task.get("inputs", {}).get("parameters", {}).items():
            if "runtimeValue" in parameter:
                values[pname] = _constant(parameter["runtimeValue"], self.flavor)
            elif "taskOutputParameter" in parameter:
                source = parameter["taskOutputParameter"]
                values[pname] = self.params[source["producerTask"]][source["outputParameterKey"]]
            elif "componentInputParameter" in parameter:
                values[pname] = root_inputs[parameter["componentInputParameter"]]["defaultValue"]
        return values

    def _input_artifacts(self) -> dict[str, list[Artifact]]:
        found = {}
        for aname, artifact in self.task.get("inputs", {}).get("artifacts", {}).items():
            source = artifact["taskOutputArtifact"]
            produced = self.result.outputs[source["producerTask"]]
            found[aname] = produced[source["outputArtifactKey"]]
        return found

    def _provision_outputs(self) -> tuple[dict[str, Any], dict[str, Any]]:
        artifacts = dict(self.component.get("outputDefinitions", {}).get("artifacts", {}))
        if self.flavor == KFP:
            artifacts["executor-logs"] = {"artifactType": {"schemaTitle": "system.Artifact"}}
        outputs = {
            aname: {"artifacts": [{"name": aname, "uri": f"{self.task_root}/{aname}",
                                   "type": definition["artifactType"], "metadata": {}}]}
            for aname, definition in artifacts.items()
        }  # fmt: skip
        local_outputs = os.path.join(self.backend.work_dir, "outputs", self.run_id, self.name)
        parameters = {
            pname: {"outputFile": os.path.join(local_outputs, pname)}
            for pname in self.component.get("outputDefinitions", {}).get("parameters", {})
        }
        return outputs, parameters

    def run_container(self, container: dict[str, Any], timeout: float) -> str:
        parameters = self._input_parameters()
        inputs = self._input_artifacts()
        outputs, output_parameters = self._provision_outputs()
        output_file = self.output_file
        executor_input = {
            "inputs": {
                "parameterValues": parameters,
                "artifacts": {
                    k: {"artifacts": [a.runtime(self.flavor) for a in v]} for k, v in inputs.items()
                },
            },
            "outputs": {"artifacts": outputs, "parameters": output_parameters,
                        "outputFile": output_file},
        }  # fmt: skip
        hook = container.get("lifecycle", {}).get("preCacheCheck")
        if hook and self.flavor == VERTEX:  # Kubeflow never runs it
            code, log = self._execute(
                hook["command"], hook.get("args", []), executor_input, timeout
            )
            if code != 0:
                self.result.logs[self.name] = log
                return FAILED
        key = self._cache_key(container, executor_input)
        enabled = self.task.get("cachingOptions", {}).get("enableCache", False)
        if enabled and key in self.backend.cache:
            produced, produced_params = self.backend.cache[key]
            self.result.outputs[self.name] = produced
            self.params[self.name] = produced_params
            return CACHED
        command, args = container.get("command", []), container.get("args", [])
        code, log = self._execute(command, args, executor_input, timeout)
        self.result.logs[self.name] = log
        if code != 0:
            return FAILED
        produced, produced_params = self._read_outputs(outputs, output_parameters, output_file)
        self.result.outputs[self.name] = produced
        self.params[self.name] = produced_params
        if enabled:
            self.backend.cache[key] = (produced, produced_params)
        return SUCCEEDED

    def _cache_key(self, container: dict[str, Any], executor_input: dict[str, Any]) -> str:
        inputs = executor_input["inputs"]
        key = {
            "inputArtifactNames": {
                k: [a["name"] for a in v["artifacts"]] for k, v in inputs["artifacts"].items()
            },
            "inputParameterValues": inputs["parameterValues"],
            "outputArtifactsSpec": {
                k: v["artifacts"][0]["type"]
                for k, v in executor_input["outputs"]["artifacts"].items()
            },
            "command": [*container.get("command", []), *container.get("args", [])],
            "image": container.get("image"),
            "task": self.name,
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()

    def _execute(self, command, args, executor_input, timeout) -> tuple[int, str]:
        text = json.dumps(executor_input)
        line = [a.replace("{{$}}", text) for a in [*command, *args]]
        os.makedirs(os.path.dirname(executor_input["outputs"]["outputFile"]), exist_ok=True)
        for listed in executor_input["outputs"]["artifacts"].values():  # prepareOutputFolders
            os.makedirs(os.path.dirname(listed["artifacts"][0]["uri"]), exist_ok=True)
        for spec in executor_input["outputs"]["parameters"].values():
            os.makedirs(os.path.dirname(spec["outputFile"]), exist_ok=True)
        process = subprocess.run(
            line, cwd=self.backend.image_dir, env=self.backend.env, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip
        return process.returncode, process.stdout + process.stderr

    def _read_outputs(self, outputs, output_parameters, output_file):
        written = {}
        if os.path.exists(output_file):
            with open(output_file) as f:
                written = json.load(f)
        produced: dict[str, list[Artifact]] = {}
        for aname, listed in outputs.items():
            provisioned = listed["artifacts"][0]
            reported = written.get("artifacts", {}).get(aname, {}).get("artifacts", [{}])
            metadata = (reported[0] if reported else {}).get("metadata", {})
            produced[aname] = [
                self.backend._new_artifact(provisioned["uri"], provisioned["type"], metadata)
            ]
        values = dict(written.get("parameterValues", {}))
        for pname, spec in output_parameters.items():
            if pname not in values and os.path.exists(spec["outputFile"]):
                values[pname] = open(spec["outputFile"]).read()
        return produced, values

    def run_importer(self, importer: dict[str, Any]) -> str:
        uri = importer["artifactUri"]
        uri = _constant(uri["runtimeParameter"] if "runtimeParameter" in uri else uri, self.flavor)
        (aname,) = self.component["outputDefinitions"]["artifacts"]
        self.result.outputs[self.name] = {
            aname: [
                self.backend._new_artifact(uri, importer["typeSchema"], importer.get("metadata"))
            ]
        }
        return SUCCEEDED

    def run_resolver(self, resolver: dict[str, Any]) -> str:
        """Vertex AI: each query's newest live artifact that matches its filter (none: empty)."""
        inputs = self._input_artifacts()
        produced = {}
        for key, query in resolver["outputArtifactQueries"].items():
            text = re.sub(
                r"\{\{\$\.inputs\.artifacts\['(\w+)'\]\.metadata\['(\w+)'\]\}\}",
                lambda m: str(inputs[m.group(1)][0].metadata.get(m.group(2), "")),
                query["filter"],
            )
            matches = [a for a in self.backend.artifacts if _matches(a, text, self.flavor)]
            produced[key] = matches[-1:]
        self.result.outputs[self.name] = produced
        return SUCCEEDED


def _matches(artifact: Artifact, text: str, flavor: str) -> bool:
    for clause in (c.strip() for c in text.split(" AND ")):
        name, _, wanted = clause.partition("=")
        wanted = wanted.strip('"')
        if name == "schema_title" and artifact.schema_title != wanted:
            return False
        if name == "name" and artifact.runtime(flavor)["name"] != wanted:
            return False
        if name.startswith("metadata."):
            _, key, _ = name.split(".")
            if float(artifact.metadata.get(key, "nan")) != float(wanted):
                return False
    return True
