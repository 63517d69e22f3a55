"""What a finished run left that a benchmark trains on: its data set's description, the Transform
output's feature spec and the transformed examples' files per split."""

from __future__ import annotations

import os
from dataclasses import dataclass

from core import node_ids
from core.dataset import DatasetSpec
from pipeline import run_report


@dataclass(frozen=True)
class TransformedData:
    dataset: DatasetSpec
    feature_spec: dict
    files: dict[str, list[str]]  # split name -> gzip TFRecord files


def transformed_data(output_dir: str, splits: tuple[str, ...]) -> TransformedData:
    """The last run in `output_dir` (its --output-dir): the Transform's output for `splits`."""
    import tensorflow as tf
    import tensorflow_transform as tft

    nodes = run_report.last_run(os.path.join(output_dir, "metadata.sqlite"), "petunet")
    transform = nodes[node_ids.TRANSFORM]
    graph = tft.TFTransformOutput(transform.artifact("transform_graph").uri)
    examples = transform.artifact("transformed_examples").uri
    return TransformedData(
        dataset=run_report.examples_dataset(nodes),
        feature_spec=graph.transformed_feature_spec(),
        files={
            split: tf.io.gfile.glob(os.path.join(examples, f"Split-{split}", "*"))
            for split in splits
        },
    )
