"""Test session setup: Keras 2 before TensorFlow (through `models`), quiet TensorFlow logs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import models  # noqa: E402, F401  (selects Keras 2 before any test imports TensorFlow)
