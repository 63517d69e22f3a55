"""Cache keys that hold what a component reads, not how Beam runs it (the local runner's).

TFX keys a component's cache on its executor spec, and a Beam component's spec holds the run's
Beam flags: `--beam-args "--direct_num_workers=2"` would rerun the ExampleGen, and with its new
artifacts everything after it, the Trainer included, though no output changes. The Beam flags are
taken out of the spec before TFX hashes it; everything else (the executor class, inputs, settings,
code fingerprints) still keys the cache. Kubeflow and Vertex key their runs themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_PATCHED = "_petunet_without_beam_args"


def without_beam_args_in_the_key(original: Callable[..., Any]) -> Callable[..., Any]:
    """TFX's get_cache_context, hashing a Beam executor spec without its Beam flags."""
    if getattr(original, _PATCHED, False):
        return original
    from tfx.proto.orchestration import executable_spec_pb2

    def get_cache_context(*args: Any, executor_spec: Any = None, **kwargs: Any):
        if isinstance(executor_spec, executable_spec_pb2.BeamExecutableSpec):
            executor_spec = without_beam_args(executor_spec)
        return original(*args, executor_spec=executor_spec, **kwargs)

    setattr(get_cache_context, _PATCHED, True)
    return get_cache_context


def without_beam_args(executor_spec: Any) -> Any:
    spec = type(executor_spec)()
    spec.CopyFrom(executor_spec)
    del spec.beam_pipeline_args[:]
    del spec.beam_pipeline_args_placeholders[:]
    return spec
