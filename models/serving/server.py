"""SegmentationServer: the tf.Module whose functions are the SavedModel's signatures
(models/serving/export.py lists them and writes the model)."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from core import contracts
from core.dataset import DatasetSpec
from models.serving import arrays, confidence, image_io, tiling
from models.transform import overlap_tile

TILE_BATCH = 4  # tiles per network call in predict_image_tiled
EXAMPLES = tf.TensorSpec([None], tf.string, name=contracts.EXAMPLES_INPUT)
IMAGES = tf.TensorSpec([None], tf.string, name=contracts.IMAGE_BYTES_INPUT)


def _graph(*inputs: tf.TensorSpec) -> Callable:
    """tf.function without AutoGraph: the signatures hold no Python control flow over tensors
    (map_fn and tf.where do it), and converting their code and every Keras layer's took most of
    the export's time."""
    return tf.function(input_signature=list(inputs), autograph=False)


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
        spec = self._raw_spec[contracts.IMAGE_KEY]
        raw = {contracts.IMAGE_KEY: arrays.raw_feature(image_bytes, spec)}
        return self.tft_layer(raw)

    def _per_image(
        self,
        image_bytes: tf.Tensor,
        answer: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
        spec: tf.TensorSpec,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(answer(region, size) per image, padded to the largest; sizes [B, 2]; confidences
        [B]), where region is the image's part of its canvas probabilities and size the image's
        own."""
        transformed = self._canvas(image_bytes)
        probabilities = self._probabilities(transformed)
        boxes = transformed[contracts.CANVAS_BOX_KEY]
        sizes = tf.cast(transformed[contracts.IMAGE_SIZE_KEY], tf.int32)
        largest = tf.reduce_max(sizes, axis=0)

        def one(args: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tf.Tensor:
            canvas, box, size = args
            box = tf.cast(box, tf.int32)
            region = canvas[box[0] : box[0] + box[2], box[1] : box[1] + box[3]]
            return arrays.pad_to(answer(region, size), largest)

        answers = tf.map_fn(one, (probabilities, boxes, sizes), fn_output_signature=spec)
        return answers, sizes, confidence.of_canvas(probabilities, boxes)

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

    def _png_answer(
        self, classes: tf.Tensor, sizes: tf.Tensor, confidences: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        """The compact answer: each mask as PNG bytes, each image's size and confidence."""
        png, _ = self._masks(classes, sizes)
        return {
            contracts.MASK_PNG_KEY: png,
            contracts.IMAGE_SIZE_KEY: tf.cast(sizes, tf.int64),
            contracts.CONFIDENCE_KEY: confidences,
        }

    def _resized_classes(self, image_bytes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        return self._per_image(
            image_bytes, arrays.full_size_classes, tf.TensorSpec([None, None], tf.int32)
        )

    # --- signatures -----------------------------------------------------------------------------
    @tf.function(autograph=False)
    def predict_tiles(self, tiles: tf.Tensor) -> dict[str, tf.Tensor]:
        return {contracts.PROBABILITIES_KEY: self._tile_probabilities(tiles)}

    @_graph(EXAMPLES)
    def predict_examples(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        image_spec = {contracts.IMAGE_KEY: self._raw_spec[contracts.IMAGE_KEY]}
        transformed = self.tft_layer(tf.io.parse_example(examples, image_spec))
        probabilities = self._probabilities(transformed)
        boxes = transformed[contracts.CANVAS_BOX_KEY]
        return {
            contracts.PROBABILITIES_KEY: probabilities,
            contracts.CLASSES_KEY: tf.argmax(probabilities, axis=-1),
            contracts.CONFIDENCE_KEY: confidence.of_canvas(probabilities, boxes),
        }

    @_graph(EXAMPLES)
    def evaluate(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        """Per example, the confusion matrix of the canvas prediction against the label (rows the
        true class, columns the predicted; IGNORE left out): what the Evaluators' metrics sum;
        and the answer's confidence, which the confidence metrics rank against it."""
        transformed = self.tft_layer(tf.io.parse_example(examples, self._raw_spec))
        logits = self._tile_logits(self._tiles(transformed))
        # The class from the logits: the softmax cannot change which class is largest (only round
        # two to a float32 tie, which the logits still tell apart).
        predicted = arrays.first_largest(logits)
        boxes = transformed[contracts.CANVAS_BOX_KEY]
        confidences = confidence.of_canvas(tf.nn.softmax(logits, axis=-1), boxes)
        labels = self._canvas_labels(transformed)
        k = self._num_classes
        valid = (labels >= 0) & (labels < k)
        cells = tf.where(valid, tf.cast(labels, tf.int32) * k + predicted, k * k)
        flat = tf.reshape(cells, [tf.shape(cells)[0], -1])
        counts = tf.math.bincount(flat, minlength=k * k + 1, maxlength=k * k + 1, axis=-1)
        confusion = tf.reshape(counts[:, : k * k], [-1, k, k])
        return {
            contracts.CONFUSION_MATRIX_KEY: tf.cast(confusion, tf.int64),
            contracts.CONFIDENCE_KEY: confidences,
        }

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
        classes, sizes, confidences = self._resized_classes(image_bytes)
        _, mask = self._masks(classes, sizes)
        return {
            contracts.MASK_OUTPUT_KEY: mask,
            contracts.IMAGE_SIZE_KEY: tf.cast(sizes, tf.int64),
            contracts.CONFIDENCE_KEY: confidences,
        }

    @_graph(IMAGES)
    def predict_image_tiled(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        sizes = self._checked_sizes(image_bytes)
        largest = tf.cast(tf.reduce_max(sizes, axis=0), tf.int32)

        def one(encoded: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            image = image_io.checked_decode(encoded, self._channels, self._max_megapixels)
            classes, sums = tiling.tiled_classes(
                image,
                self._tile_size,
                self._output_size,
                TILE_BATCH,
                self._tile_probabilities,
                self._num_classes,
            )
            return arrays.pad_to(classes, largest), sums

        classes, sums = tf.map_fn(
            one,
            image_bytes,
            fn_output_signature=(
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([3, self._num_classes], tf.float32),
            ),
        )
        return self._png_answer(classes, sizes, confidence.expected_iou(sums))

    @_graph(IMAGES)
    def predict_image_probabilities(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        resized, sizes, confidences = self._per_image(
            image_bytes,
            lambda region, size: tf.image.resize(region, size, method="bilinear"),
            tf.TensorSpec([None, None, self._num_classes], tf.float32),
        )
        return {
            contracts.PROBABILITIES_KEY: resized,
            contracts.IMAGE_SIZE_KEY: tf.cast(sizes, tf.int64),
            contracts.CONFIDENCE_KEY: confidences,
        }


IMAGE_SIGNATURES = (
    contracts.PREDICT_IMAGE_SIGNATURE,
    contracts.PREDICT_IMAGE_TILED_SIGNATURE,
    contracts.PREDICT_IMAGE_MASK_SIGNATURE,
    contracts.PREDICT_IMAGE_PROBABILITIES_SIGNATURE,
)


def layer_weights(model: tf.keras.Model) -> list[tf.Variable]:
    """The network's own weights (its layers'), not the metrics' or the training's bookkeeping."""
    return [w for layer in model.layers for w in layer.weights]
