"""SchemaCurator: SchemaGen's schema without value domains on identifier features.

Wiring: SchemaGen -> SchemaCurator(schema=schema_gen.outputs["schema"]) ->
ExampleValidator(schema=curator.outputs["curated_schema"]) (and Transform, Trainer alike).
"""

import os

from absl import logging
from tfx.types.standard_artifacts import Schema
from tfx.utils import io_utils
from tfx.v1.dsl.components import InputArtifact, OutputArtifact, Parameter, component

from components.schema_curator.curate import complete_value_domain, strip_value_domains
from core import contracts

SCHEMA_FILE = "schema.pbtxt"  # the file name SchemaGen writes and the consumers look for
DEFAULT_IDENTIFIERS = contracts.NAME_KEY  # comma-separated feature names


@component
def SchemaCurator(  # a component: named like a class
    schema: InputArtifact[Schema],
    curated_schema: OutputArtifact[Schema],
    identifier_features: Parameter[str] = DEFAULT_IDENTIFIERS,
) -> None:
    """Copies the schema, dropping string value domains of `identifier_features` and giving
    object_size all its buckets."""
    source = io_utils.get_only_uri_in_dir(schema.uri)
    parsed = io_utils.SchemaReader().read(source)
    names = [n.strip() for n in identifier_features.split(",") if n.strip()]
    changed = strip_value_domains(parsed, [*names, contracts.OBJECT_SIZE_KEY])
    buckets = [name for _, name in contracts.OBJECT_SIZE_BUCKETS]
    complete_value_domain(parsed, contracts.OBJECT_SIZE_KEY, buckets)
    io_utils.write_pbtxt_file(os.path.join(curated_schema.uri, SCHEMA_FILE), parsed)
    logging.info("SchemaCurator: value domains removed from %s", changed or "no feature")
