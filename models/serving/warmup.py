"""TF Serving warm-up requests: replayed when the model loads, so that the first real request does
not pay for tracing each signature (TFX's InfraValidator writes them for the same reason).

The file is `assets.extra/tf_serving_warmup_requests`, TFRecords of PredictionLog protos, one
PredictRequest per image signature with a small image of the model's channels.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from core import contracts

WARMUP_FILE = "tf_serving_warmup_requests"
WARMUP_SIZE = (48, 64)  # height, width: small, and not square, to exercise the canvas mapping


def sample_image(channels: int) -> bytes:
    """A small PNG of gradients in the given number of channels."""
    height, width = WARMUP_SIZE
    ramp = np.linspace(0, 255, height * width, dtype=np.float32).reshape(height, width)
    pixels = np.stack([ramp, ramp[::-1], np.full_like(ramp, 128)], axis=-1)
    image = pixels[..., :channels].astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if channels == 1 else image).save(buffer, format="PNG")
    return buffer.getvalue()


def request(signature: str, images: list[bytes]) -> predict_pb2.PredictRequest:
    """The gRPC PredictRequest a client sends to an image signature."""
    message = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name="petunet", signature_name=signature)
    )
    message.inputs[contracts.IMAGE_BYTES_INPUT].CopyFrom(tf.make_tensor_proto(images, tf.string))
    return message


def write_requests(path: str, signatures: Iterable[str], channels: int) -> None:
    image = sample_image(channels)
    with tf.io.TFRecordWriter(path) as writer:
        for signature in signatures:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request(signature, [image]))
            )
            writer.write(log.SerializeToString())
