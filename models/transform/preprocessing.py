"""The Transform's `preprocessing_fn`: raw examples -> overlap tiles, labels and class counts.

Outputs that need the mask (label, class counts) are pruned by the Transform layer when only the
image is fed, so the same graph serves images at inference.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from core import contracts
from core.config import TransformConfig
from core.dataset import DatasetSpec
from models.transform import overlap_tile

TRANSFORM_CONFIG_KEY = "transform"  # custom_config: the transform section (JSON)
DATASET_CONFIG_KEY = "dataset"  # custom_config: the data set's description (JSON)


def custom_config(transform: TransformConfig, dataset: DatasetSpec) -> dict[str, str]:
    """Transform's custom_config, its cache key: its section and the data set's description."""
    return {
        TRANSFORM_CONFIG_KEY: json.dumps(dataclasses.asdict(transform), sort_keys=True),
        DATASET_CONFIG_KEY: dataset.to_json(),
    }


def _dense_strings(tensor: tf.Tensor | tf.SparseTensor | tf.RaggedTensor) -> tf.Tensor:
    """A batch of scalar string features as [B], whatever shape the schema gave them."""
    if isinstance(tensor, tf.SparseTensor):
        tensor = tf.sparse.to_dense(tensor, default_value=b"")
    elif isinstance(tensor, tf.RaggedTensor):
        tensor = tensor.to_tensor(default_value=b"")
    return tf.reshape(tensor, [-1])


def _from_config(config: dict[str, Any]) -> tuple[TransformConfig, DatasetSpec]:
    transform = TransformConfig(**json.loads(config[TRANSFORM_CONFIG_KEY]))
    return transform, DatasetSpec.from_json(config[DATASET_CONFIG_KEY])


def preprocessing_fn(
    inputs: dict[str, Any], custom_config: dict[str, Any] | None = None
) -> dict[str, tf.Tensor]:
    """tf.Transform: raw examples -> image region, label region, class pixel counts, canvas box,
    image size (core/contracts.py).

    Outputs that need the mask (label, class weights) are pruned by the Transform layer when only
    the image is fed, so the same graph serves images at inference.
    """
    transform, spec = _from_config(custom_config or {})
    canvas = transform.output_size
    images = _dense_strings(inputs[contracts.IMAGE_KEY])

    def image_fn(image_bytes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        image = overlap_tile.decode_image(image_bytes, spec.num_channels)
        region, box = overlap_tile.image_to_region(image, canvas)
        size = tf.shape(image, out_type=tf.int64)[:2]
        return overlap_tile.serialize(region), tf.cast(box, tf.int64), size

    regions, boxes, sizes = tf.map_fn(
        image_fn,
        images,
        fn_output_signature=(
            tf.TensorSpec([], tf.string),
            tf.TensorSpec([4], tf.int64),
            tf.TensorSpec([2], tf.int64),
        ),
    )
    outputs = {
        contracts.IMAGE_REGION_KEY: regions,
        contracts.CANVAS_BOX_KEY: boxes,
        contracts.IMAGE_SIZE_KEY: sizes,
    }

    if contracts.MASK_KEY in inputs:
        masks = _dense_strings(inputs[contracts.MASK_KEY])

        def mask_fn(args: tuple[tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
            mask_bytes, box = args
            mask = tf.io.decode_png(mask_bytes, channels=1)
            region = overlap_tile.mask_to_region(mask, tf.cast(box, tf.int32), spec)
            one_hot = tf.one_hot(tf.cast(region, tf.int32), spec.num_classes)  # IGNORE: zeros
            return overlap_tile.serialize(region), tf.reduce_sum(one_hot, axis=[0, 1])

        label_regions, counts = tf.map_fn(
            mask_fn,
            (masks, boxes),
            fn_output_signature=(
                tf.TensorSpec([], tf.string),
                tf.TensorSpec([spec.num_classes], tf.float32),
            ),
        )
        outputs[contracts.LABEL_REGION_KEY] = label_regions
        # Class frequencies over the analysed (train) split, once: the loss's w_c.
        total = tft.sum(counts, reduce_instance_dims=False)
        batch = tf.shape(counts)[0]
        outputs[contracts.CLASS_COUNTS_KEY] = tf.tile(total[tf.newaxis, :], [batch, 1])
    return outputs
