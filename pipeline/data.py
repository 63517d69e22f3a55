"""The run's data, settled before any component runs: the folder (generated when none is given)
and the data set's description read from it, so a wrong folder fails in one line, early."""

from __future__ import annotations

import logging

from components.example_gen import layouts
from core.config import PipelineConfig


def resolve_data_root(config: PipelineConfig) -> str:
    """The data root, or a synthetic set (pets or cells) generated under the output dir."""
    data = config.data
    if data.data_root:
        return data.data_root
    logging.info("petunet: no --data-root: synthetic %s in %s", data.synthetic,
                 config.synthetic_data_dir)  # fmt: skip
    if data.synthetic == "cells":
        from pipeline.synthetic.cells import generate_synthetic_cells

        return generate_synthetic_cells(
            config.synthetic_data_dir,
            data.synthetic_num_images,
            data.synthetic_seed,
            test_percent=data.synthetic_test_percent,
        )
    from pipeline.synthetic.pets import generate_synthetic_pets

    return generate_synthetic_pets(
        config.synthetic_data_dir,
        data.synthetic_num_images,
        data.synthetic_seed,
        test_percent=data.synthetic_test_percent,
    )


def with_dataset(config: PipelineConfig, data_root: str) -> PipelineConfig:
    """The config with the description of the data set in `data_root` (ValueError if invalid)."""
    dataset = layouts.describe(data_root, config.data.oxford_border == "ignore")
    return config.with_overrides(dataset=dataset)
