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
from collections.abc import Callable

import tensorflow as tf

from core import contracts
from core.dataset import DatasetSpec
from models.serving import image_io, tiling, warmup
from models.transform import overlap_tile

DATASET_ASSET = os.path.join("assets.extra", "dataset.json")
NETWORK_ASSET = os.path.join("assets.extra", "network.json")  # what a warm start must match
RESIZE_STRIP_ROWS = 256  # full-resolution rows resized at a time: bounds the float memory
TILE_BATCH = 4  # tiles per network call in predict_image_tiled
EXAMPLES = tf.TensorSpec([None], tf.string, name=contracts.EXAMPLES_INPUT)
IMAGES = tf.TensorSpec([None], tf.string, name=contracts.IMAGE_BYTES_INPUT)


def _graph(*inputs: tf.TensorSpec) -> Callable:
    """tf.function without AutoGraph: the signatures hold no Python control flow over tensors
    (map_fn and tf.where do it), and converting their code and every Keras layer's took most of
    the export's time."""
    return tf.function(input_signature=list(inputs), autograph=False)


def first_largest(values: tf.Tensor) -> tf.Tensor:
    """int32 index of the largest value along the last axis, the first one on ties (argmax's
    rule): a running comparison over the few classes, which on CPU takes 0.6x the time of
    tf.argmax reducing a last axis of 3 (docs/PERFORMANCE.md)."""
    best = values[..., 0]
    index = tf.zeros(tf.shape(best), tf.int32)
    for k in range(1, values.shape[-1]):
        larger = values[..., k] > best
        index = tf.where(larger, k, index)
        best = tf.maximum(best, values[..., k])
    return index


def _raw_feature(values: tf.Tensor, spec) -> tf.Tensor | tf.SparseTensor:
    """A [B] string batch in the shape the raw schema gave the feature (as parse_example would)."""
    if isinstance(spec, tf.io.FixedLenFeature):
        return tf.reshape(values, [-1, *spec.shape])
    return tf.sparse.from_dense(tf.reshape(values, [-1, 1]))


def _resize_rows(columns: tf.Tensor, rows: tf.Tensor, height: tf.Tensor) -> tf.Tensor:
    """Bilinear resize along axis 0 of [h, W, K] to output rows `rows` of `height` (the same
    half-pixel-centre rule as tf.image.resize), for a strip of rows at a time."""
    h = tf.shape(columns)[0]
    scale = tf.cast(h, tf.float32) / tf.cast(height, tf.float32)
    source = tf.maximum((tf.cast(rows, tf.float32) + 0.5) * scale - 0.5, 0.0)
    low = tf.minimum(tf.cast(tf.floor(source), tf.int32), h - 1)
    high = tf.minimum(low + 1, h - 1)
    weight = (source - tf.cast(low, tf.float32))[:, None, None]
    return tf.gather(columns, low) * (1.0 - weight) + tf.gather(columns, high) * weight


def _pad_to(values: tf.Tensor, largest: tf.Tensor) -> tf.Tensor:
    """values [h, w, ...] padded with zeros at the bottom and right to [largest h, largest w]."""
    extra = largest - tf.shape(values)[:2]
    rest = [[0, 0]] * (len(values.shape) - 2)
    return tf.pad(values, [[0, extra[0]], [0, extra[1]], *rest])


def _full_size_classes(region: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """int32 [H, W]: the most probable class of canvas probabilities `region` [h, w, K] resized
    to the image's size, strip by strip (never H x W x K floats at once)."""
    height, width = size[0], size[1]
    columns = tf.image.resize(region, tf.stack([tf.shape(region)[0], width]), method="bilinear")
    starts = tf.range(0, height, RESIZE_STRIP_ROWS)

    def strip(start: tf.Tensor) -> tf.Tensor:
        rows = tf.range(start, tf.minimum(start + RESIZE_STRIP_ROWS, height))
        classes = tf.argmax(_resize_rows(columns, rows, height), axis=-1, output_type=tf.int32)
        return tf.pad(classes, [[0, RESIZE_STRIP_ROWS - tf.shape(rows)[0]], [0, 0]])

    strips = tf.map_fn(strip, starts, fn_output_signature=tf.TensorSpec([None, None], tf.int32))
    return tf.reshape(strips, [-1, width])[:height]


class SegmentationServer(tf.Module):
    """Holds the trained network (in float32: `float32_network`) and the Transform layer; its
    tf.functions are the signatures."""

    def __init__(
        self,
        model: tf.keras.Model,
        tf_transform_output,
        tile_size: int,
        dataset: DatasetSpec,
        max_megapixels: float,
    ) -> None:
        super().__init__(name="petunet")
        # The Keras model itself is not tracked, only its layers' weights: tracked, it would be
        # saved as a Keras object too, every layer's call traced beside the signatures (export
        # and each load took several times longer, for functions nothing serves).
        self.__dict__["_network"] = model
        self.network_weights = layer_weights(model)
        self.tft_layer = tf_transform_output.transform_features_layer()
        self._raw_spec = tf_transform_output.raw_feature_spec()
        self._tile_size = tile_size
        self._output_size = int(model.output_shape[1])
        self._channels = dataset.num_channels
        self._num_classes = dataset.num_classes
        self._class_values = tf.constant(dataset.class_values, tf.int32)
        self._max_megapixels = max_megapixels

        # One traced network that every signature calls: traced inside each of them instead, the
        # export took most of its time tracing the same layers eight times.
        self.tiles_spec = tf.TensorSpec(
            [None, tile_size, tile_size, dataset.num_channels], tf.uint8, name=contracts.TILES_INPUT
        )
        self._tile_logits = _graph(self.tiles_spec)(self._network_logits)

    # --- shared pieces ---------------------------------------------------------------------------
    def _network_logits(self, tiles: tf.Tensor) -> tf.Tensor:
        return tf.cast(self._network(tiles, training=False), tf.float32)

    def _tile_probabilities(self, tiles: tf.Tensor) -> tf.Tensor:
        return tf.nn.softmax(self._tile_logits(tiles), axis=-1)

    def _tiles(self, transformed: dict[str, tf.Tensor]) -> tf.Tensor:
        tile, canvas = self._tile_size, self._output_size
        margin = (tile - canvas) // 2
        return tf.map_fn(
            lambda args: overlap_tile.tile_from_bytes(*args, canvas, margin, self._channels),
            (transformed[contracts.IMAGE_REGION_KEY], transformed[contracts.CANVAS_BOX_KEY]),
            fn_output_signature=tf.TensorSpec([tile, tile, self._channels], tf.uint8),
        )

    def _probabilities(self, transformed: dict[str, tf.Tensor]) -> tf.Tensor:
        return self._tile_probabilities(self._tiles(transformed))

    def _checked_sizes(self, image_bytes: tf.Tensor) -> tf.Tensor:
        """int64 [B, 2] header sizes, each image checked (INVALID_ARGUMENT otherwise)."""
        return tf.map_fn(
            lambda b: image_io.checked_size(b, self._max_megapixels),
            image_bytes,
            fn_output_signature=tf.TensorSpec([2], tf.int64),
        )

    def _canvas(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        """The Transform layer's outputs for checked images (any sizes)."""
        with tf.control_dependencies([self._checked_sizes(image_bytes)]):
            image_bytes = tf.identity(image_bytes)
        raw = {contracts.IMAGE_KEY: _raw_feature(image_bytes, self._raw_spec[contracts.IMAGE_KEY])}
        return self.tft_layer(raw)

    def _per_image(
        self,
        image_bytes: tf.Tensor,
        answer: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
        spec: tf.TensorSpec,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """(answer(region, size) per image, padded to the largest; sizes [B, 2]), where region is
        the image's part of its canvas probabilities and size the image's own."""
        transformed = self._canvas(image_bytes)
        probabilities = self._probabilities(transformed)
        sizes = tf.cast(transformed[contracts.IMAGE_SIZE_KEY], tf.int32)
        largest = tf.reduce_max(sizes, axis=0)

        def one(args: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tf.Tensor:
            canvas, box, size = args
            box = tf.cast(box, tf.int32)
            region = canvas[box[0] : box[0] + box[2], box[1] : box[1] + box[3]]
            return _pad_to(answer(region, size), largest)

        boxes = transformed[contracts.CANVAS_BOX_KEY]
        return tf.map_fn(one, (probabilities, boxes, sizes), fn_output_signature=spec), sizes

    def _masks(self, classes: tf.Tensor, sizes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(PNG bytes [B], label values padded with -1 [B, Hmax, Wmax]) from per-image classes
        padded to [B, Hmax, Wmax] and sizes [B, 2]."""

        def one(args: tuple[tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
            padded, size = args
            values = tf.gather(self._class_values, padded[: size[0], : size[1]])
            png = tf.io.encode_png(tf.cast(values, tf.uint8)[..., None])
            extra = tf.shape(padded) - size
            return png, tf.pad(values, [[0, extra[0]], [0, extra[1]]], constant_values=-1)

        return tf.map_fn(
            one,
            (classes, tf.cast(sizes, tf.int32)),
            fn_output_signature=(
                tf.TensorSpec([], tf.string),
                tf.TensorSpec([None, None], tf.int32),
            ),
        )

    def _png_answer(self, classes: tf.Tensor, sizes: tf.Tensor) -> dict[str, tf.Tensor]:
        """The compact answer: each mask as PNG bytes, and each image's size."""
        png, _ = self._masks(classes, sizes)
        return {contracts.MASK_PNG_KEY: png, contracts.IMAGE_SIZE_KEY: tf.cast(sizes, tf.int64)}

    def _canvas_probabilities(self, examples: tf.Tensor) -> tf.Tensor:
        image_spec = {contracts.IMAGE_KEY: self._raw_spec[contracts.IMAGE_KEY]}
        raw = tf.io.parse_example(examples, image_spec)
        return self._probabilities(self.tft_layer(raw))

    def _resized_classes(self, image_bytes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return self._per_image(
            image_bytes, _full_size_classes, tf.TensorSpec([None, None], tf.int32)
        )

    # --- signatures -----------------------------------------------------------------------------
    @tf.function(autograph=False)
    def predict_tiles(self, tiles: tf.Tensor) -> dict[str, tf.Tensor]:
        return {contracts.PROBABILITIES_KEY: self._tile_probabilities(tiles)}

    @_graph(EXAMPLES)
    def predict_examples(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities = self._canvas_probabilities(examples)
        return {
            contracts.PROBABILITIES_KEY: probabilities,
            contracts.CLASSES_KEY: tf.argmax(probabilities, axis=-1),
        }

    @_graph(EXAMPLES)
    def evaluate(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        """Per example, the confusion matrix of the canvas prediction against the label (rows the
        true class, columns the predicted; IGNORE left out): what the Evaluators' metrics sum."""
        transformed = self.tft_layer(tf.io.parse_example(examples, self._raw_spec))
        # The class from the logits: the softmax cannot change which class is largest (only round
        # two to a float32 tie, which the logits still tell apart), and over the canvas it cost as
        # much as the argmax and the counts together.
        predicted = first_largest(self._tile_logits(self._tiles(transformed)))
        labels = self._canvas_labels(transformed)
        k = self._num_classes
        valid = (labels >= 0) & (labels < k)
        cells = tf.where(valid, tf.cast(labels, tf.int32) * k + predicted, k * k)
        flat = tf.reshape(cells, [tf.shape(cells)[0], -1])
        counts = tf.math.bincount(flat, minlength=k * k + 1, maxlength=k * k + 1, axis=-1)
        confusion = tf.reshape(counts[:, : k * k], [-1, k, k])
        return {contracts.CONFUSION_MATRIX_KEY: tf.cast(confusion, tf.int64)}

    def _canvas_labels(self, transformed: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.map_fn(
            lambda args: overlap_tile.label_from_bytes(*args, self._output_size),
            (transformed[contracts.LABEL_REGION_KEY], transformed[contracts.CANVAS_BOX_KEY]),
            fn_output_signature=tf.TensorSpec([self._output_size] * 2, tf.int64),
        )

    @_graph(EXAMPLES)
    def transform_features(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = tf.io.parse_example(examples, self._raw_spec)
        transformed = self.tft_layer(raw)
        return {
            contracts.LABEL_KEY: self._canvas_labels(transformed),
            contracts.CANVAS_BOX_KEY: transformed[contracts.CANVAS_BOX_KEY],
            contracts.IMAGE_SIZE_KEY: transformed[contracts.IMAGE_SIZE_KEY],
        }

    @_graph(IMAGES)
    def predict_image(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._png_answer(*self._resized_classes(image_bytes))

    @_graph(IMAGES)
    def predict_image_mask(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        classes, sizes = self._resized_classes(image_bytes)
        _, mask = self._masks(classes, sizes)
        return {contracts.MASK_OUTPUT_KEY: mask, contracts.IMAGE_SIZE_KEY: tf.cast(sizes, tf.int64)}

    @_graph(IMAGES)
    def predict_image_tiled(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        sizes = self._checked_sizes(image_bytes)
        largest = tf.cast(tf.reduce_max(sizes, axis=0), tf.int32)

        def one(encoded: tf.Tensor) -> tf.Tensor:
            image = image_io.checked_decode(encoded, self._channels, self._max_megapixels)
            classes = tiling.tiled_classes(
                image, self._tile_size, self._output_size, TILE_BATCH, self._tile_probabilities
            )
            return _pad_to(classes, largest)

        classes = tf.map_fn(
            one, image_bytes, fn_output_signature=tf.TensorSpec([None, None], tf.int32)
        )
        return self._png_answer(classes, sizes)

    @_graph(IMAGES)
    def predict_image_probabilities(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        resized, sizes = self._per_image(
            image_bytes,
            lambda region, size: tf.image.resize(region, size, method="bilinear"),
            tf.TensorSpec([None, None, self._num_classes], tf.float32),
        )
        return {
            contracts.PROBABILITIES_KEY: resized,
            contracts.IMAGE_SIZE_KEY: tf.cast(sizes, tf.int64),
        }


IMAGE_SIGNATURES = (
    contracts.PREDICT_IMAGE_SIGNATURE,
    contracts.PREDICT_IMAGE_TILED_SIGNATURE,
    contracts.PREDICT_IMAGE_MASK_SIGNATURE,
    contracts.PREDICT_IMAGE_PROBABILITIES_SIGNATURE,
)


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


def layer_weights(model: tf.keras.Model) -> list[tf.Variable]:
    """The network's own weights (its layers'), not the metrics' or the training's bookkeeping."""
    return [w for layer in model.layers for w in layer.weights]


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
    # Stage by stage, with the CPU it used and the pages it waited for: an export sometimes took
    # 70 s instead of 10 (docs/PERFORMANCE.md), and this says whether it computed or waited.
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
