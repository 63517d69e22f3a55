"""petunet's own artifact types, in a top-level module named like their type names.

TFX's Kubeflow compiler writes a custom type's name into the spec (it must read `module.Class`),
and TFX's container entrypoint imports that name as a class path: `petunet.DriftReport` has to be
importable as it stands, on the image's PYTHONPATH.
"""

from tfx import types as tfx_types


class DriftReport(tfx_types.Artifact):
    """The new span against the previous one, per drift feature (drift.json)."""

    TYPE_NAME = "petunet.DriftReport"
