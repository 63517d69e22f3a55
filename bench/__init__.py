"""Benchmarks (not tests): one command each, a table printed and JSON written to bench/results/."""

import os
import sys
import warnings

import models  # noqa: F401  (first: selects Keras 2 before TensorFlow loads)
from models import console

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The Google client libraries TFX imports warn once per module about Python 3.10.
warnings.filterwarnings("ignore", message="You are using a non-supported Python version")
if sys.argv[:1] == ["-m"]:  # run as `python -m bench...`, not imported by a test
    # The libraries' log records through the runners' filter: petunet's lines, each warning once.
    console.configure_logging()
