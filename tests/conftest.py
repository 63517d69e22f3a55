"""Test session setup: the start-up every entry point makes (Keras 2 before TensorFlow, the
library patches), quiet TensorFlow logs."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import startup  # noqa: E402

startup.start()  # before any test module imports TensorFlow


@pytest.fixture(scope="session")
def first_run(tmp_path_factory):
    """One end-to-end run of the test preset, shared by the tests that read its results."""
    from pipeline import run_report
    from tests.e2e_runs import run_pipeline

    output_dir = str(tmp_path_factory.mktemp("e2e"))
    from tests.e2e_runs import FIRST_RUN

    # serving_default takes images in this model (the nnU-Net runs keep TFX's tf.Examples).
    result = run_pipeline(output_dir, *FIRST_RUN, report=True)
    summary = run_report.summarize(os.path.join(output_dir, "metadata.sqlite"), "petunet")
    return output_dir, result, summary
