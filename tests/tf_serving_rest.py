"""TF Serving's REST rules for Predict, written from tensorflow/serving's util/json_tensor.cc, so
tests can send a JSON request through a real signature and read the JSON answer the server writes.

Request (FillPredictRequestFromJson): `signature_name` (a string, optional), and exactly one of
`instances` (row format: a list, one item per example; an item is an object keyed by input name,
or a bare value when the signature has one input) or `inputs` (columnar: an object keyed by input
name, or a bare value or list for one input; a {"b64"} object counts as a value). A string
input value is a JSON string or {"b64": ...}, an object with that one key, base64-decoded.

Response (MakeJsonFromTensors): row format -> {"predictions": [...]}: every output must share the
first (batch) dimension ("inconsistent batch size" otherwise) and have a shape; each prediction is
an object keyed by output name, or the bare value when there is one output. Columnar ->
{"outputs": {...}} with whole tensors (bare for one output). A string output whose name ends in
`_bytes` is written as {"b64": base64}; any other string is written as its bytes, which here must
be UTF-8 (a server writes invalid JSON otherwise). Floats: NaN -> NaN, inf -> Infinity.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

BYTES_SUFFIX = "_bytes"
B64 = "b64"


class RestError(ValueError):
    """What TF Serving answers with {"error": ...}."""


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {B64} or not isinstance(value[B64], str):
            raise RestError(f"JSON Value: {value} not formatted correctly for base64 data")
        return base64.b64decode(value[B64], validate=True)
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def parse_request(body: str, input_names: list[str]) -> tuple[str, dict[str, list], str]:
    """(signature name, inputs by name as nested lists, "row" or "columnar")."""
    document = json.loads(body)
    signature = document.get("signature_name", "serving_default")
    if not isinstance(signature, str):
        raise RestError("'signature_name' key must be a string value.")
    if ("instances" in document) == ("inputs" in document):
        raise RestError("expecting only one of 'inputs' or 'instances' keys to exist")
    if "instances" in document:
        instances = document["instances"]
        if not isinstance(instances, list) or not instances:
            raise RestError("'instances' must be a non-empty list")
        columns: dict[str, list] = {name: [] for name in input_names}
        for item in instances:
            if isinstance(item, dict) and not (set(item) == {B64} and len(input_names) == 1):
                if set(item) != set(input_names):
                    raise RestError(f"instance has inputs {sorted(item)}, expected {input_names}")
                for name in input_names:
                    columns[name].append(_decode_value(item[name]))
            elif len(input_names) == 1:
                columns[input_names[0]].append(_decode_value(item))
            else:
                raise RestError("an instance must be an object keyed by input name")
        return signature, columns, "row"
    inputs = document["inputs"]
    if isinstance(inputs, dict) and set(inputs) != {B64}:  # keyed by input name
        missing = [name for name in input_names if name not in inputs]
        if missing:
            raise RestError(f"Missing named input: {missing[0]} in 'inputs' object.")
        return signature, {k: _decode_value(inputs[k]) for k in input_names}, "columnar"
    if len(input_names) == 1:  # a plain value or list for the one input
        return signature, {input_names[0]: _decode_value(inputs)}, "columnar"
    raise RestError("inputs is a plain value/list, but expecting an object as multiple inputs")


def _encode(value: Any, as_bytes: bool, name: str) -> Any:
    if isinstance(value, np.ndarray):
        return [_encode(v, as_bytes, name) for v in value]
    if isinstance(value, bytes | np.bytes_):
        if as_bytes:
            return {B64: base64.b64encode(bytes(value)).decode("ascii")}
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise RestError(
                f"output {name!r} holds bytes that are not UTF-8 text; TF Serving base64-encodes "
                f"a string output only when its name ends in {BYTES_SUFFIX!r}"
            ) from None
    if isinstance(value, np.floating | float):
        value = float(value)
        if math.isnan(value):
            return "NaN"  # written raw by the server; kept as a marker here
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, np.integer | int):
        return int(value)
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    raise RestError(f"cannot write {type(value).__name__} of output {name!r}")


def make_response(outputs: Mapping[str, np.ndarray], format: str) -> str:
    """The JSON text TF Serving writes for these output tensors."""
    if not outputs:
        raise RestError("Cannot convert empty tensor map to JSON")
    arrays = {name: np.asarray(value) for name, value in sorted(outputs.items())}
    as_bytes = {
        name: name.endswith(BYTES_SUFFIX) and a.dtype.kind in "SO" for name, a in arrays.items()
    }
    if format == "columnar":
        encoded = {name: _encode(a, as_bytes[name], name) for name, a in arrays.items()}
        body = encoded if len(encoded) > 1 else next(iter(encoded.values()))
        return json.dumps({"outputs": body})
    batch = None
    for name, array in arrays.items():
        if array.ndim == 0:
            raise RestError(f"Tensor name: {name} has no shape information")
        if batch is not None and array.shape[0] != batch:
            raise RestError(
                f"Tensor name: {name} has inconsistent batch size: {array.shape[0]} "
                f"expecting: {batch}"
            )
        batch = array.shape[0]
    predictions = []
    for item in range(batch or 0):
        row = {name: _encode(a[item], as_bytes[name], name) for name, a in arrays.items()}
        predictions.append(row if len(row) > 1 else next(iter(row.values())))
    return json.dumps({"predictions": predictions})


def predict(
    signatures: Mapping[str, Callable[..., Mapping[str, Any]]],
    input_names: Mapping[str, list[str]],
    body: str,
) -> str:
    """A REST Predict call: the request parsed, the signature run, the answer written."""
    import tensorflow as tf

    name = json.loads(body).get("signature_name", "serving_default")
    if name not in signatures:
        raise RestError(f"Serving signature name: {name!r} not found in signature def")
    signature, inputs, format = parse_request(body, input_names[name])
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    outputs = signatures[signature](**tensors)
    return make_response({k: v.numpy() for k, v in outputs.items()}, format)
