"""The servable SavedModel: signatures that need no Keras and no project code at load time.

- serving_default: serialized tf.Example (only `image` is read) -> probabilities [B, O, O, K],
  classes [B, O, O] (class indices).
- transform_features: serialized raw tf.Example -> Transform outputs (label, ...) for the Evaluator.
- predict_image: encoded JPEG/PNG/GIF/BMP bytes of any size -> mask in the data set's own label
  values (Oxford: 1 pet, 2 background, 3 border) and probabilities at the image's own H x W.
- predict_tiles: uint8 tiles [B, T, T, C] -> probabilities [B, O, O, K], for overlap-tile
  inference on large images without resizing (models/serving/predict.py --tile).
The Transform graph (tft layer) is embedded, so serving runs exactly the training preprocessing.
The data set's description (class names and values, channels) is written beside the model as
`assets.extra/dataset.json` for clients such as the prediction CLI.
"""

from __future__ import annotations

import os

import tensorflow as tf

from models import contracts
from models.dataset import DatasetSpec
from models.transform import overlap_tile

DATASET_ASSET = os.path.join("assets.extra", "dataset.json")

# First bytes of the formats tf.io.decode_image reads: JPEG, PNG, GIF, BMP.
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")


def _raw_feature(values: tf.Tensor, spec) -> tf.Tensor | tf.SparseTensor:
    """A [B] string batch in the shape the raw schema gave the feature (as parse_example would)."""
    if isinstance(spec, tf.io.FixedLenFeature):
        return tf.reshape(values, [-1, *spec.shape])
    return tf.sparse.from_dense(tf.reshape(values, [-1, 1]))


def _check_image_bytes(image_bytes: tf.Tensor) -> tf.Operation:
    """A clear error for bytes that are not an image, instead of a decoder's internal message."""
    prefixes = [tf.strings.substr(image_bytes, 0, len(m)) == m for m in _MAGIC]
    recognised = tf.reduce_any(tf.stack(prefixes, axis=0), axis=0)
    return tf.debugging.Assert(
        tf.reduce_all(recognised),
        ["predict_image: input is not a JPEG, PNG, GIF or BMP image (first bytes unrecognised)"],
    )


def _to_image_size(args: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tf.Tensor:
    """Canvas probabilities -> probabilities at the original image size."""
    probabilities, box, size = args
    box = tf.cast(box, tf.int32)
    region = probabilities[box[0] : box[0] + box[2], box[1] : box[1] + box[3]]
    return tf.image.resize(region, tf.cast(size, tf.int32), method="bilinear")


class SegmentationServer(tf.Module):
    """Holds the trained network and the Transform layer; its tf.functions are the signatures."""

    def __init__(
        self, model: tf.keras.Model, tf_transform_output, tile_size: int, dataset: DatasetSpec
    ) -> None:
        super().__init__(name="petunet")
        self.model = model
        self.tft_layer = tf_transform_output.transform_features_layer()
        self._raw_spec = tf_transform_output.raw_feature_spec()
        self._tile_size = tile_size
        self._channels = dataset.num_channels
        self._num_classes = dataset.num_classes
        self._class_values = tf.constant(dataset.class_values, tf.int32)

    def _label_values(self, probabilities: tf.Tensor) -> tf.Tensor:
        """The most probable class per pixel, as the data set's own mask value."""
        return tf.gather(self._class_values, tf.argmax(probabilities, axis=-1))

    def _transform(self, raw: dict) -> dict[str, tf.Tensor]:
        return self.tft_layer(raw)

    def _tile_probabilities(self, tiles: tf.Tensor) -> tf.Tensor:
        logits = self.model(tiles, training=False)
        return tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)

    def _probabilities(self, transformed: dict[str, tf.Tensor]) -> tf.Tensor:
        tiles = tf.map_fn(
            lambda b: overlap_tile.parse_tile(b, self._tile_size, self._channels),
            transformed[contracts.TILE_KEY],
            fn_output_signature=tf.TensorSpec(
                [self._tile_size, self._tile_size, self._channels], tf.uint8
            ),
        )
        return self._tile_probabilities(tiles)

    @tf.function
    def predict_tiles(self, tiles: tf.Tensor) -> dict[str, tf.Tensor]:
        return {contracts.PROBABILITIES_KEY: self._tile_probabilities(tiles)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=contracts.EXAMPLES_INPUT)])
    def serving_default(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        image_spec = {contracts.IMAGE_KEY: self._raw_spec[contracts.IMAGE_KEY]}
        raw = tf.io.parse_example(examples, image_spec)
        probabilities = self._probabilities(self._transform(raw))
        return {
            contracts.PROBABILITIES_KEY: probabilities,
            contracts.CLASSES_KEY: tf.argmax(probabilities, axis=-1),
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=contracts.EXAMPLES_INPUT)])
    def transform_features(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = tf.io.parse_example(examples, self._raw_spec)
        transformed = self._transform(raw)
        return {
            contracts.LABEL_KEY: transformed[contracts.LABEL_KEY],
            contracts.CANVAS_BOX_KEY: transformed[contracts.CANVAS_BOX_KEY],
            contracts.IMAGE_SIZE_KEY: transformed[contracts.IMAGE_SIZE_KEY],
        }

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.string, name=contracts.IMAGE_BYTES_INPUT)]
    )
    def predict_image(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        """Images of one request must share a size (send one image per request otherwise)."""
        with tf.control_dependencies([_check_image_bytes(image_bytes)]):
            image_bytes = tf.identity(image_bytes)
        raw = {contracts.IMAGE_KEY: _raw_feature(image_bytes, self._raw_spec[contracts.IMAGE_KEY])}
        transformed = self._transform(raw)
        probabilities = self._probabilities(transformed)
        resized = tf.map_fn(
            _to_image_size,
            (
                probabilities,
                transformed[contracts.CANVAS_BOX_KEY],
                transformed[contracts.IMAGE_SIZE_KEY],
            ),
            fn_output_signature=tf.TensorSpec([None, None, self._num_classes], tf.float32),
        )
        return {
            contracts.MASK_OUTPUT_KEY: self._label_values(resized),
            contracts.PROBABILITIES_KEY: resized,
        }


def export_serving_model(
    model: tf.keras.Model,
    tf_transform_output,
    tile_size: int,
    export_dir: str,
    dataset: DatasetSpec,
) -> None:
    """Writes the SavedModel with its signatures and the data set's description to `export_dir`."""
    server = SegmentationServer(model, tf_transform_output, tile_size, dataset)
    signatures = {
        contracts.SERVING_SIGNATURE: server.serving_default.get_concrete_function(),
        contracts.TRANSFORM_SIGNATURE: server.transform_features.get_concrete_function(),
        contracts.PREDICT_IMAGE_SIGNATURE: server.predict_image.get_concrete_function(),
        contracts.PREDICT_TILES_SIGNATURE: server.predict_tiles.get_concrete_function(
            tf.TensorSpec(
                [None, tile_size, tile_size, dataset.num_channels],
                tf.uint8,
                name=contracts.TILES_INPUT,
            )
        ),
    }
    tf.saved_model.save(server, export_dir, signatures=signatures)
    asset = os.path.join(export_dir, DATASET_ASSET)
    tf.io.gfile.makedirs(os.path.dirname(asset))
    with tf.io.gfile.GFile(asset, "w") as f:
        f.write(dataset.to_json())
