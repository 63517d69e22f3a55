"""The command every container task of the compiled spec runs: TFX's Kubeflow v2 entrypoint,
given the executor input it expects on both backends.

    python -m pipeline.kubeflow.entrypoint --executor_class_path ... \
        --json_serialized_invocation_args '{{$}}' --json_serialized_inputs_spec_args '...'

Open-source Kubeflow Pipelines hands a task its input artifacts without their type (its driver
builds them from ML Metadata, backend/src/v2/metadata/converter.go), which TFX 1.16's entrypoint
needs to import the artifact's class (tensorflow/tfx issue 7768); the type is in the inputs spec
the compiler writes into the command. It also adds an `executor-logs` output of type
`system.Artifact`, which is the launcher's own and no TFX class. Vertex AI's executor input passes
through unchanged.
"""

from __future__ import annotations

import json
import runpy
import sys

import startup

TFX_ENTRYPOINT = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"
INVOCATION_FLAG = "--json_serialized_invocation_args"
INPUTS_SPEC_FLAG = "--json_serialized_inputs_spec_args"
LAUNCHER_OUTPUTS = ("executor-logs",)  # outputs the Kubeflow launcher adds and writes itself


def _has_type(artifact: dict) -> bool:
    kind = artifact.get("type") or {}
    return bool(kind.get("schemaTitle") or kind.get("instanceSchema"))


def repaired_invocation(invocation: str, inputs_spec: str | None) -> str:
    """The executor input with each input artifact's type filled in from the inputs spec where
    it is missing, and without the launcher's own outputs."""
    executor_input = json.loads(invocation)
    declared = json.loads(inputs_spec).get("artifacts", {}) if inputs_spec else {}
    for name, listed in executor_input.get("inputs", {}).get("artifacts", {}).items():
        for artifact in listed.get("artifacts", []):
            if not _has_type(artifact) and name in declared:
                artifact["type"] = declared[name]["artifactType"]
    outputs = executor_input.get("outputs", {}).get("artifacts", {})
    for name in LAUNCHER_OUTPUTS:
        outputs.pop(name, None)
    return json.dumps(executor_input)


def repaired_argv(argv: list[str]) -> list[str]:
    """The command line with its invocation repaired (see repaired_invocation)."""
    args = list(argv)
    flags = {
        flag: i + 1 for i, flag in enumerate(args) if flag in (INVOCATION_FLAG, INPUTS_SPEC_FLAG)
    }
    if INVOCATION_FLAG not in flags or flags[INVOCATION_FLAG] >= len(args):
        raise SystemExit(f"petunet: {INVOCATION_FLAG} is required")
    spec_at = flags.get(INPUTS_SPEC_FLAG)
    inputs_spec = args[spec_at] if spec_at is not None and spec_at < len(args) else None
    at = flags[INVOCATION_FLAG]
    args[at] = repaired_invocation(args[at], inputs_spec)
    return args


def main() -> None:
    startup.start()
    sys.argv = [TFX_ENTRYPOINT, *repaired_argv(sys.argv[1:])]
    runpy.run_module(TFX_ENTRYPOINT, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
