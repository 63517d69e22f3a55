"""The Transform's `preprocessing_fn`: raw examples -> overlap tiles, labels and class counts.

Outputs that need the mask (label, class counts) are pruned by the Transform layer when only the
image is fed, so the same graph serves images at inference.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from models import contracts
from models.dataset import OXFORD_PETS, DatasetSpec
from models.network import geometry
from models.transform import overlap_tile

DATASET_CONFIG_KEY = "dataset"  # custom_config: the data set's description (JSON)


def _dense_strings(tensor: tf.Tensor | tf.SparseTensor | tf.RaggedTensor) -> tf.Tensor:
    """A batch of scalar string features as [B], whatever shape the schema gave them."""
    if isinstance(tensor, tf.SparseTensor):
        tensor = tf.sparse.to_dense(tensor, default_value=b"")
    elif isinstance(tensor, tf.RaggedTensor):
        tensor = tensor.to_tensor(default_value=b"")
    return tf.reshape(tensor, [-1])


def geometry_from_config(custom_config: dict[str, Any] | None) -> tuple[int, int]:
    """(canvas O, margin) from the Transform's custom_config: tile_size and depth."""
    custom_config = custom_config or {}
    geo = geometry.geometry(
        int(custom_config.get("tile_size", geometry.PAPER_TILE)),
        int(custom_config.get("depth", geometry.PAPER_DEPTH)),
    )
    return geo.output, geo.margin


def dataset_from_config(custom_config: dict[str, Any] | None) -> DatasetSpec:
    """The data set's description from the Transform's custom_config (Oxford when absent)."""
    text = (custom_config or {}).get(DATASET_CONFIG_KEY)
    return DatasetSpec.from_json(text) if text else OXFORD_PETS


def preprocessing_fn(
    inputs: dict[str, Any], custom_config: dict[str, Any] | None = None
) -> dict[str, tf.Tensor]:
    """tf.Transform: raw examples -> tile bytes, label, class pixel counts, canvas box, image size.

    Outputs that need the mask (label, class weights) are pruned by the Transform layer when only
    the image is fed, so the same graph serves images at inference.
    """
    canvas, margin = geometry_from_config(custom_config)
    spec = dataset_from_config(custom_config)
    images = _dense_strings(inputs[contracts.IMAGE_KEY])

    def image_fn(image_bytes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        image = overlap_tile.decode_image(image_bytes, spec.num_channels)
        tile, box = overlap_tile.image_to_tile(image, canvas, margin)
        size = tf.shape(image, out_type=tf.int64)[:2]
        return tf.io.serialize_tensor(tile), tf.cast(box, tf.int64), size

    tiles, boxes, sizes = tf.map_fn(
        image_fn,
        images,
        fn_output_signature=(
            tf.TensorSpec([], tf.string),
            tf.TensorSpec([4], tf.int64),
            tf.TensorSpec([2], tf.int64),
        ),
    )
    outputs = {
        contracts.TILE_KEY: tiles,
        contracts.CANVAS_BOX_KEY: boxes,
        contracts.IMAGE_SIZE_KEY: sizes,
    }

    if contracts.MASK_KEY in inputs:
        masks = _dense_strings(inputs[contracts.MASK_KEY])

        def mask_fn(args: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
            mask_bytes, box = args
            mask = tf.io.decode_png(mask_bytes, channels=1)
            return overlap_tile.mask_to_label(mask, tf.cast(box, tf.int32), canvas, spec)

        labels = tf.map_fn(
            mask_fn, (masks, boxes), fn_output_signature=tf.TensorSpec([canvas, canvas], tf.int64)
        )
        outputs[contracts.LABEL_KEY] = labels
        # Class frequencies over the analysed (train) split, once: the loss's w_c.
        one_hot = tf.one_hot(labels, spec.num_classes, dtype=tf.float32)  # IGNORE -> zeros
        counts = tft.sum(tf.reduce_sum(one_hot, axis=[1, 2]), reduce_instance_dims=False)
        batch = tf.shape(labels)[0]
        outputs[contracts.CLASS_COUNTS_KEY] = tf.tile(counts[tf.newaxis, :], [batch, 1])
    return outputs
