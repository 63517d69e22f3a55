"""The Trainer's input pipeline: transformed examples -> augmented tiles, labels and weight maps.

Elastic deformation and the weight map are per-step randomness and per-example work, so they live
here in tf.data (parallel map), not in Transform, which runs once.
"""

from __future__ import annotations

import tensorflow as tf

from core import contracts
from core.config import TrainerConfig
from models.training import augment, weight_map
from models.transform import overlap_tile

PREFETCH_BATCHES = 2  # one being trained on, one ready


def prepare_example(
    transformed: dict[str, tf.Tensor],
    config: TrainerConfig,
    training: bool,
    seed: tf.Tensor | None = None,
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """One transformed example -> (uint8 tile, {label, weights}); augmented when training, from
    `seed` (a [2] integer seed) when given, else from stateful random ops."""
    spec, settings = config.dataset, config.training
    box = tf.reshape(transformed[contracts.CANVAS_BOX_KEY], [4])
    tile = overlap_tile.tile_from_bytes(
        transformed[contracts.IMAGE_REGION_KEY],
        box,
        config.output_size,
        config.margin,
        config.input_channels,
    )
    label = overlap_tile.label_from_bytes(
        transformed[contracts.LABEL_REGION_KEY], box, config.output_size
    )
    if training:
        tile, label = augment.augment(
            tile,
            label,
            grid_size=settings.elastic_grid,
            std_px=settings.elastic_std_px,
            flip=settings.flip,
            seed=seed,
        )
    class_weights = None
    if settings.class_balance:
        class_weights = weight_map.class_weights_from_counts(
            transformed[contracts.CLASS_COUNTS_KEY]
        )
    weights = weight_map.weight_map(
        label,
        class_weights,
        border_weight=settings.border_weight,
        w0=settings.border_w0,
        sigma=settings.border_sigma_px,
        max_objects=settings.border_max_objects,
        num_classes=spec.num_classes,
        foreground_classes=spec.foreground_classes,
    )
    return tile, {contracts.LABEL_KEY: label, contracts.WEIGHTS_KEY: weights}


def make_dataset(
    raw: tf.data.Dataset, config: TrainerConfig, training: bool, batch_size: int | None = None
) -> tf.data.Dataset:
    """Batched (tile, {label, weights}) from a dataset of single transformed examples (repeated).

    With a training seed, each example's augmentation has a seed of its own from one seeded
    stream, and the map keeps the order: stateful random ops in a parallel map hand out their
    draws in whatever order the threads come."""
    seed = config.training.training_seed if training else 0
    if seed:
        raw = tf.data.Dataset.zip((raw, tf.data.Dataset.random(seed=seed).batch(2)))
        prepare = lambda example, pair: prepare_example(example, config, training, pair)  # noqa: E731
    else:
        prepare = lambda example: prepare_example(example, config, training)  # noqa: E731
    dataset = raw.map(
        prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=bool(seed) or not training
    )
    dataset = dataset.batch(batch_size or config.training.batch_size, drop_remainder=True)
    # Several workers each read every file and keep their share of the batches: the examples are
    # few large files, fewer than workers can split by file.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # No autotuning thread: freeing a training iterator waits for it, for tens of seconds; the
    # maps' AUTOTUNE then stays at tf.data's default parallelism.
    options.autotune.enabled = False
    return dataset.prefetch(PREFETCH_BATCHES).with_options(options)


def from_data_accessor(
    data_accessor, file_patterns: list[str], schema, config: TrainerConfig, training: bool
) -> tf.data.Dataset:
    """The TFX data accessor's dataset (one example per element, shuffled when training)."""
    from tfx_bsl.public import tfxio

    options = tfxio.TensorFlowDatasetOptions(
        batch_size=1,
        shuffle=training,
        shuffle_buffer_size=config.training.shuffle_buffer,
        shuffle_seed=config.training.training_seed or None,
        num_epochs=None,
    )
    batched = data_accessor.tf_dataset_factory(file_patterns, options, schema)
    return make_dataset(batched.unbatch(), config, training)


class RecordDataAccessor:
    """TFX's data accessor for worker processes, which have no fn_args: the same tfxio reader
    (tf.Example payloads, the transformed schema) over the same files."""

    def tf_dataset_factory(self, file_patterns: list[str], options, schema) -> tf.data.Dataset:
        from tfx.components.util import tfxio_utils
        from tfx.proto import example_gen_pb2

        reader = tfxio_utils.make_tfxio(
            file_pattern=file_patterns,
            telemetry_descriptors=["petunet", "Trainer"],
            payload_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            schema=schema,
            file_format=["tfrecords_gzip"] * len(file_patterns),
        )
        return reader.TensorFlowDataset(options)


def from_tfrecords(
    file_patterns: list[str], feature_spec: dict, config: TrainerConfig, training: bool
) -> tf.data.Dataset:
    """The same pipeline straight from gzipped transformed TFRecords (benchmarks, tools)."""
    seed = config.training.training_seed or None
    files = tf.data.Dataset.list_files(file_patterns, shuffle=training, seed=seed)
    records = tf.data.TFRecordDataset(files, compression_type="GZIP").repeat()
    if training:
        records = records.shuffle(config.training.shuffle_buffer, seed=seed)
    examples = records.map(
        lambda record: tf.io.parse_single_example(record, feature_spec),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return make_dataset(examples, config, training)
