"""The served model of the first end-to-end run, as TF Serving would call it: mixed sizes, PNG
masks, full-resolution overlap-tile, a pixel limit read from the header, every bad input refused
with a message, every common image mode served, warm-up requests, and the README's requests sent
through TF Serving's REST rules (tests/tf_serving_rest.py). The first run exports with
`--serving-default image`, what a Vertex AI endpoint needs."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import resource
import sys
import time
import types

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import prediction_log_pb2

from bench import plain_serving
from core import contracts
from models.serving import export, warmup
from tests import tf_serving_rest
from tests.e2e_runs import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(name="first_run")]
TRIMAP_VALUES = {1, 2, 3}


@pytest.fixture(scope="module")
def model(first_run):
    _, _, summary = first_run
    return tf.saved_model.load(summary["pushed_to"]), summary["pushed_to"]


def _encode(array: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> bytes:
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    from pipeline.synthetic.pets import render_pet

    image, _, _ = render_pet(seed, 3, (height, width))
    return image


def _call(model, signature: str, images: list[bytes]) -> dict[str, np.ndarray]:
    out = model.signatures[signature](**{contracts.IMAGE_BYTES_INPUT: tf.constant(images)})
    return {k: v.numpy() for k, v in out.items()}


def _png_mask(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.mark.parametrize(
    "signature", [contracts.PREDICT_IMAGE_SIGNATURE, contracts.PREDICT_IMAGE_TILED_SIGNATURE]
)
def test_one_request_holds_images_of_different_sizes(model, signature):
    sizes = [(120, 90), (70, 160), (33, 41)]
    images = [_encode(_photo(h, w, i)) for i, (h, w) in enumerate(sizes)]
    out = _call(model[0], signature, images)
    compact = {contracts.MASK_PNG_KEY, contracts.IMAGE_SIZE_KEY, contracts.CONFIDENCE_KEY}
    assert set(out) == compact  # no arrays
    assert out[contracts.IMAGE_SIZE_KEY].tolist() == [list(s) for s in sizes]
    confidences = out[contracts.CONFIDENCE_KEY]
    assert confidences.shape == (3,) and ((confidences >= 0) & (confidences <= 1)).all()
    for i, (h, w) in enumerate(sizes):
        mask = _png_mask(out[contracts.MASK_PNG_KEY][i])
        assert mask.shape == (h, w) and set(np.unique(mask)) <= TRIMAP_VALUES


def test_the_dense_mask_comes_from_its_own_signature_and_equals_the_png(model):
    sizes = [(120, 90), (70, 160)]
    images = [_encode(_photo(h, w, i)) for i, (h, w) in enumerate(sizes)]
    pngs = _call(model[0], contracts.PREDICT_IMAGE_SIGNATURE, images)[contracts.MASK_PNG_KEY]
    dense = _call(model[0], contracts.PREDICT_IMAGE_MASK_SIGNATURE, images)
    assert dense[contracts.MASK_OUTPUT_KEY].shape == (2, 120, 160)
    for i, (h, w) in enumerate(sizes):
        padded = dense[contracts.MASK_OUTPUT_KEY][i]
        np.testing.assert_array_equal(padded[:h, :w], _png_mask(pngs[i]))
        assert (padded[h:] == -1).all() and (padded[:, w:] == -1).all()


def test_the_tiled_mask_equals_numpy_stitching_of_the_same_model(model):
    loaded, _ = model
    image = _photo(800, 1000, seed=5)
    out = _call(loaded, contracts.PREDICT_IMAGE_TILED_SIGNATURE, [_encode(image)])
    tiles = loaded.signatures[contracts.PREDICT_TILES_SIGNATURE]
    tile = tiles.structured_input_signature[1][contracts.TILES_INPUT].shape[1]
    output = tiles.structured_outputs[contracts.PROBABILITIES_KEY].shape[1]

    def predict(batch: np.ndarray) -> np.ndarray:
        return tiles(**{contracts.TILES_INPUT: tf.constant(batch)})[
            contracts.PROBABILITIES_KEY
        ].numpy()

    probabilities = plain_serving.tiled_probabilities(predict, image, tile, output)
    reference = probabilities.argmax(-1) + 1  # trimap values
    np.testing.assert_array_equal(_png_mask(out[contracts.MASK_PNG_KEY][0]), reference)
    expected = plain_serving.expected_iou(probabilities)
    assert out[contracts.CONFIDENCE_KEY][0] == pytest.approx(expected, abs=1e-4)


def test_a_decompression_bomb_is_refused_quickly_without_decoding_it(model):
    bomb = _encode(np.zeros((20000, 20000), np.bool_))  # a 1-bit PNG, a few hundred KB
    assert len(bomb) < 2_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    limit = "image of 20000 x 20000 pixels is over the limit of 40000000 pixels"
    with pytest.raises(tf.errors.InvalidArgumentError, match=limit):
        _call(model[0], contracts.PREDICT_IMAGE_SIGNATURE, [bomb])
    assert time.perf_counter() - started < 1.0
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 1_000_000  # a decoded 20000 x 20000 RGB image alone is 1.2 GB


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "image_bytes is empty"),
        (b"not an image at all, just some text", "not a JPEG, PNG, GIF or BMP"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "too short to be an image"),
    ],
)
def test_each_bad_input_fails_with_a_message(model, data, message):
    for signature in (contracts.PREDICT_IMAGE_SIGNATURE, contracts.PREDICT_IMAGE_TILED_SIGNATURE):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            _call(model[0], signature, [data])


def test_a_truncated_image_fails_as_an_invalid_argument(model):
    whole = _encode(_photo(64, 80), "JPEG")
    with pytest.raises(tf.errors.InvalidArgumentError):
        _call(model[0], contracts.PREDICT_IMAGE_SIGNATURE, [whole[: len(whole) // 2]])


def test_every_common_image_mode_is_served(model):
    photo = _photo(40, 56)
    rgba = np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)])
    gray16 = photo[..., 0].astype(np.uint16) * 257
    inputs = {
        "16-bit PNG": _encode(gray16),
        "RGBA PNG": _encode(rgba),
        "gray PNG": _encode(photo[..., 0]),
        "palette PNG": _encode(photo, mode="P"),
        "CMYK JPEG": _encode(photo, "JPEG", mode="CMYK"),
        "GIF": _encode(photo, "GIF", mode="P"),
        "BMP": _encode(photo, "BMP"),
    }
    out = _call(model[0], contracts.PREDICT_IMAGE_SIGNATURE, list(inputs.values()))
    for i, name in enumerate(inputs):
        mask = _png_mask(out[contracts.MASK_PNG_KEY][i])
        assert mask.shape == (40, 56), name


def test_full_resolution_probabilities_come_only_from_their_own_signature(model):
    out = _call(model[0], contracts.PREDICT_IMAGE_SIGNATURE, [_encode(_photo(30, 40))])
    assert contracts.PROBABILITIES_KEY not in out
    image = _encode(_photo(30, 40))
    out = _call(model[0], contracts.PREDICT_IMAGE_PROBABILITIES_SIGNATURE, [image])
    assert out[contracts.PROBABILITIES_KEY].shape == (1, 30, 40, 3)
    np.testing.assert_allclose(out[contracts.PROBABILITIES_KEY].sum(-1), 1.0, atol=1e-4)


def test_the_warmup_requests_parse_and_cover_every_image_signature(model):
    loaded, path = model
    records = tf.data.TFRecordDataset(os.path.join(path, "assets.extra", warmup.WARMUP_FILE))
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in records]
    signatures = {log.predict_log.request.model_spec.signature_name for log in logs}
    assert signatures == {
        contracts.SERVING_SIGNATURE,  # it takes images in this model
        contracts.PREDICT_IMAGE_SIGNATURE,
        contracts.PREDICT_IMAGE_TILED_SIGNATURE,
        contracts.PREDICT_IMAGE_MASK_SIGNATURE,
        contracts.PREDICT_IMAGE_PROBABILITIES_SIGNATURE,
    }
    for log in logs:  # each replays through its signature as TF Serving would
        request = log.predict_log.request
        images = tf.make_ndarray(request.inputs[contracts.IMAGE_BYTES_INPUT]).tolist()
        assert _call(loaded, request.model_spec.signature_name, images)


def _rest(loaded) -> tuple[dict, dict]:
    """The model's signatures and their input names, as TF Serving reads them."""
    signatures = dict(loaded.signatures)
    names = {n: sorted(f.structured_input_signature[1]) for n, f in signatures.items()}
    return signatures, names


def _readme_block(marker: str) -> str:
    """The one Python block of the README and docs/serving.md that holds `marker`."""
    text = ""
    for page in ("README.md", os.path.join("docs", "serving.md")):
        with open(os.path.join(ROOT, page), encoding="utf-8") as f:
            text += f.read()
    blocks = list(dict.fromkeys(re.findall(r"```python\n(.*?)```", text, re.S)))
    (block,) = [b for b in blocks if marker in b]
    return block


def test_the_readme_rest_request_through_tf_servings_rules(model, tmp_path, monkeypatch):
    """The README's REST example, run as written, against TF Serving's JSON rules."""
    loaded, _ = model
    signatures, names = _rest(loaded)
    images = {"cat.jpg": _encode(_photo(50, 60), "JPEG"), "dog.png": _encode(_photo(44, 30, 1))}
    for name, data in images.items():
        (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    sent = []

    class Answer:
        def __init__(self, text: str) -> None:
            self.text = text

        def json(self):
            return json.loads(self.text)

    def post(url, data):
        assert url.endswith("/v1/models/petunet:predict")
        sent.append(data)
        return Answer(tf_serving_rest.predict(signatures, names, data))

    namespace = {"__name__": "readme"}
    monkeypatch.setitem(sys.modules, "requests", types.SimpleNamespace(post=post))
    exec(_readme_block("requests.post"), namespace)
    assert len(sent) >= 1
    masks = namespace["masks"]
    assert [m.shape for m in masks] == [(50, 60), (44, 30)]
    assert all(set(np.unique(m)) <= TRIMAP_VALUES for m in masks)
    confidences = namespace["confidences"]
    assert len(confidences) == 2 and all(isinstance(c, float) and 0 <= c <= 1 for c in confidences)


@pytest.mark.parametrize("signature", [*export.IMAGE_SIGNATURES, contracts.SERVING_SIGNATURE])
@pytest.mark.parametrize("format", ["row", "columnar"])
def test_every_image_signature_answers_valid_json_in_both_formats(model, signature, format):
    loaded, _ = model
    signatures, names = _rest(loaded)
    images = [_encode(_photo(30, 40)), _encode(_photo(20, 24, 2), "JPEG")]
    b64 = [{"b64": base64.b64encode(b).decode("ascii")} for b in images]
    if format == "row":
        request = {"signature_name": signature, "instances": [{"image_bytes": v} for v in b64]}
    else:
        request = {"signature_name": signature, "inputs": {"image_bytes": b64}}
    text = tf_serving_rest.predict(signatures, names, json.dumps(request))
    text.encode("utf-8")  # the body is UTF-8 text
    answer = json.loads(text)
    rows = answer["predictions"] if format == "row" else None
    if rows is not None:
        assert len(rows) == 2
        for row, size in zip(rows, [(30, 40), (20, 24)], strict=True):
            assert row[contracts.IMAGE_SIZE_KEY] == list(size)
            assert isinstance(row[contracts.CONFIDENCE_KEY], float)  # a number per instance
            assert 0.0 <= row[contracts.CONFIDENCE_KEY] <= 1.0
            if contracts.MASK_PNG_KEY in row:
                assert _png_mask(base64.b64decode(row[contracts.MASK_PNG_KEY]["b64"])).shape == size
    else:
        assert answer["outputs"][contracts.IMAGE_SIZE_KEY] == [[30, 40], [20, 24]]
        confidences = answer["outputs"][contracts.CONFIDENCE_KEY]
        assert len(confidences) == 2 and all(0.0 <= c <= 1.0 for c in confidences)


def test_a_binary_output_without_the_bytes_suffix_breaks_the_rest_answer():
    """The rule the old `mask_png` name broke: raw PNG bytes are not JSON text."""
    png = _encode(np.zeros((4, 4), np.uint8))
    with pytest.raises(tf_serving_rest.RestError, match="_bytes"):
        tf_serving_rest.make_response({"mask_png": np.array([png], object)}, "row")
    ok = json.loads(
        tf_serving_rest.make_response({"mask_png_bytes": np.array([png], object)}, "row")
    )
    assert base64.b64decode(ok["predictions"][0]["b64"]) == png


def test_the_readme_grpc_request_reads_outputs_the_signature_has(model):
    loaded, _ = model
    block = _readme_block("PredictionServiceStub")
    signature = re.search(r'"petunet", "(\w+)"', block).group(1)
    output = re.search(r'outputs\["(\w+)"\]', block).group(1)
    images = [_encode(_photo(50, 60)), _encode(_photo(44, 30, 1), "JPEG")]
    grpc = warmup.request(signature, images)
    tensors = {k: tf.make_ndarray(v).tolist() for k, v in grpc.inputs.items()}
    out = _call(loaded, grpc.model_spec.signature_name, tensors[contracts.IMAGE_BYTES_INPUT])
    assert _png_mask(out[output][1]).shape == (44, 30)


def test_a_vertex_request_reaches_serving_default_with_images(model):
    """Vertex AI names no signature: serving_default takes the images in this model, and its
    answer is the compact one."""
    loaded, _ = model
    signatures, names = _rest(loaded)
    image = _encode(_photo(36, 48))
    body = json.dumps({"instances": [{"image_bytes": {"b64": base64.b64encode(image).decode()}}]})
    (row,) = json.loads(tf_serving_rest.predict(signatures, names, body))["predictions"]
    assert set(row) == {contracts.MASK_PNG_KEY, contracts.IMAGE_SIZE_KEY, contracts.CONFIDENCE_KEY}
    assert _png_mask(base64.b64decode(row[contracts.MASK_PNG_KEY]["b64"])).shape == (36, 48)
