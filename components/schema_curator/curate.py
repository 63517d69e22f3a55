"""Schema curation: identifiers are not categories, and a known category has all its values.

SchemaGen turns every string feature with few distinct values into a categorical feature with a
value domain. On a small data set that includes `name`, a per-example identifier, and every
new split or new data (whose names are new by definition) would then be flagged by
ExampleValidator as an anomaly. Stripping those domains keeps type, presence and shape checks.
A category whose values petunet defines (`object_size`: small, medium, large) gets all of them,
whichever the train split happened to hold, so eval and test are checked against the real set.
"""

from __future__ import annotations

from collections.abc import Iterable

from tensorflow_metadata.proto.v0 import schema_pb2

STRING_DOMAIN_FIELDS = ("domain", "string_domain")  # a reference to a top-level domain, or inline


def strip_value_domains(schema: schema_pb2.Schema, feature_names: Iterable[str]) -> list[str]:
    """Removes string value domains of the named features in place; returns the names changed.

    Top-level string domains that only those features referenced are removed too, so the
    schema holds no orphan value lists.
    """
    names = set(feature_names)
    changed, released = [], set()
    for feature in schema.feature:
        kind = feature.WhichOneof("domain_info")
        if feature.name in names and kind in STRING_DOMAIN_FIELDS:
            if kind == "domain":
                released.add(feature.domain)
            feature.ClearField(kind)
            changed.append(feature.name)
    still_used = {f.domain for f in schema.feature if f.WhichOneof("domain_info") == "domain"}
    kept = [d for d in schema.string_domain if d.name not in released or d.name in still_used]
    del schema.string_domain[:]
    schema.string_domain.extend(kept)
    return changed


def complete_value_domain(
    schema: schema_pb2.Schema, feature_name: str, values: Iterable[str]
) -> bool:
    """Gives a string feature the inline domain `values` (all of them); False if absent."""
    for feature in schema.feature:
        if feature.name == feature_name:
            if feature.WhichOneof("domain_info") == "domain":
                feature.ClearField("domain")
            del feature.string_domain.value[:]
            feature.string_domain.value.extend(values)
            return True
    return False
