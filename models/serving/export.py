"""The servable SavedModel: signatures that need no Keras and no project code at load time.

Binary outputs end in `_bytes`: TF Serving, Vertex AI and KServe base64 a string output in a REST
answer only then (tensorflow/serving util/json_tensor.cc). The image signatures answer compactly
(a PNG per image); dense per-pixel arrays come only from the signatures named for them.

- predict_image: encoded images (JPEG/PNG/GIF/BMP; any sizes, mixed in one request) -> per image
  `mask_png_bytes` (the mask as PNG bytes in the data set's label values, at the image's own
  size) and `image_size` [B, 2]. The image is fitted onto the model's canvas, as in training.
- predict_image_tiled: the same outputs at full resolution by overlap-tile (paper, Fig. 2): no
  resizing, tiles through the network in fixed-size batches, so memory follows the batch.
- predict_image_mask: the mask as a dense `mask` [B, H, W] (padded with -1 to the largest image).
- predict_image_probabilities: per-class probabilities [B, H, W, K] at each image's size (padded
  with 0): K floats per pixel.
- serving_default: serialized tf.Example -> canvas probabilities (TFX's convention), or with
  `serving_default="image"` what predict_image does (a Vertex AI endpoint calls this one).
- predict_examples: serialized tf.Example (only `image` is read) -> probabilities [B, O, O, K],
  classes [B, O, O] on the canvas (class indices).
- evaluate: raw tf.Example with its mask -> `confusion_matrix` [B, K, K] per example (the
  Evaluators sum these instead of moving O x O x K probabilities through Python).
- transform_features: serialized raw tf.Example -> Transform outputs (label, ...).
- predict_tiles: uint8 tiles [B, T, T, C] -> probabilities [B, O, O, K].
Every image is checked before it is decoded (models/serving/image_io.py): its header size against
`max_megapixels`, and anything that is not an image fails with INVALID_ARGUMENT. The Transform
graph (tft layer) is embedded, so serving runs exactly the training preprocessing. Beside the
model: `assets.extra/dataset.json` (the classes and values, for clients such as the prediction
CLI) and `assets.extra/tf_serving_warmup_requests` (TF Serving replays them at load, so the first
real request does not pay for tracing).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import time

import tensorflow as tf

from core import contracts
from core.dataset import DatasetSpec
from models.serving import warmup
from models.serving.server import IMAGE_SIGNATURES, SegmentationServer, layer_weights

DATASET_ASSET = os.path.join("assets.extra", "dataset.json")
NETWORK_ASSET = os.path.join("assets.extra", "network.json")  # what a warm start must match


def float32_network(model: tf.keras.Model) -> tf.keras.Model:
    """The trained network computing in float32, with the same weights.

    A network trained in mixed precision computes in bfloat16 or float16; saved that way, it runs
    only where such kernels exist: on a CPU without AVX512-BF16 oneDNN cannot build its bfloat16
    convolution, and every signature fails ("could not create a primitive descriptor"). The
    weights are float32 in any precision, so the served network computes in float32 and loads
    on any server.
    """
    computing = [x for x in model.layers if not isinstance(x, tf.keras.layers.InputLayer)]
    if all(layer.compute_dtype == "float32" for layer in computing):
        return model

    def in_float32(layer: tf.keras.layers.Layer) -> tf.keras.layers.Layer:
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    twin = tf.keras.models.clone_model(model, clone_function=in_float32)
    for source, target in zip(model.layers, twin.layers, strict=True):
        target.set_weights(source.get_weights())
    return twin


def network_description(model: tf.keras.Model, tile_size: int, dataset: DatasetSpec) -> dict:
    """What weights fit: the tile, the layers' weight shapes, the classes and channels."""
    shapes = {w.name: list(w.shape) for w in layer_weights(model)}
    return {
        "tile_size": tile_size,
        "classes": list(dataset.class_names),
        "channels": dataset.num_channels,
        "weights": shapes,
    }


def export_serving_model(
    model: tf.keras.Model,
    tf_transform_output,
    tile_size: int,
    export_dir: str,
    dataset: DatasetSpec,
    max_megapixels: float,
    serving_default: str = "examples",
) -> None:
    """Writes the SavedModel, the data set's description and the warm-up requests.

    serving_default: "examples" (serialized tf.Example in, TFX's convention) or "image" (image
    bytes in, the compact PNG answer out: what a Vertex AI endpoint calls, as it names no
    signature)."""
    started, usage_before = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
    network = float32_network(model)
    twinned = time.monotonic()
    server = SegmentationServer(network, tf_transform_output, tile_size, dataset, max_megapixels)
    built = time.monotonic()
    by_examples = server.predict_examples.get_concrete_function()
    by_image = server.predict_image.get_concrete_function()
    signatures = {
        contracts.SERVING_SIGNATURE: by_image if serving_default == "image" else by_examples,
        contracts.PREDICT_EXAMPLES_SIGNATURE: by_examples,
        contracts.EVALUATION_SIGNATURE: server.evaluate.get_concrete_function(),
        contracts.TRANSFORM_SIGNATURE: server.transform_features.get_concrete_function(),
        contracts.PREDICT_IMAGE_SIGNATURE: by_image,
        contracts.PREDICT_IMAGE_TILED_SIGNATURE: server.predict_image_tiled.get_concrete_function(),
        contracts.PREDICT_IMAGE_MASK_SIGNATURE: server.predict_image_mask.get_concrete_function(),
        contracts.PREDICT_IMAGE_PROBABILITIES_SIGNATURE: (
            server.predict_image_probabilities.get_concrete_function()
        ),
        contracts.PREDICT_TILES_SIGNATURE: server.predict_tiles.get_concrete_function(
            server.tiles_spec
        ),
    }
    traced = time.monotonic()
    tf.saved_model.save(server, export_dir, signatures=signatures)
    extra = os.path.join(export_dir, "assets.extra")
    tf.io.gfile.makedirs(extra)
    with tf.io.gfile.GFile(os.path.join(export_dir, DATASET_ASSET), "w") as f:
        f.write(dataset.to_json())
    with tf.io.gfile.GFile(os.path.join(export_dir, NETWORK_ASSET), "w") as f:
        f.write(json.dumps(network_description(model, tile_size, dataset), sort_keys=True))
    warmed = IMAGE_SIGNATURES + (
        (contracts.SERVING_SIGNATURE,) if serving_default == "image" else ()
    )
    warmup.write_requests(os.path.join(extra, warmup.WARMUP_FILE), warmed, dataset.num_channels)
    written, usage = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
    # Stage by stage, with the CPU it used and the pages it waited for: whether a slow export
    # computed or waited.
    cpu = usage.ru_utime + usage.ru_stime - usage_before.ru_utime - usage_before.ru_stime
    logging.info(
        "petunet: exported the SavedModel in %.0f s (float32 network %.1f s, Transform layer "
        "%.1f s, tracing the signatures %.1f s, writing %.1f s; %.0f s of CPU, %d pages read "
        "from disk)",
        written - started,
        twinned - started,
        built - twinned,
        traced - built,
        written - traced,
        cpu,
        usage.ru_majflt - usage_before.ru_majflt,
    )
