"""Benchmarks (not tests): one command each, a table printed and JSON written to bench/results/."""

import os
import sys

import models  # noqa: F401  (first: Keras 2 before TensorFlow; the libraries' warnings silenced)
from models import console

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if sys.argv[:1] == ["-m"]:  # run as `python -m bench...`, not imported by a test
    # The libraries' log records through the runners' filter: petunet's lines, each warning once.
    console.configure_logging()
