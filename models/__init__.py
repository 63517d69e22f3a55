"""The model side of petunet: contracts, config, network, transform, training, evaluation, serving.

TFX executors import these modules by path, and Transform and TFMA 0.47 expect Keras 2 (tf_keras):
the switch must happen before anything imports TensorFlow. Every other package and entry point
imports this one first, so this is the one place that sets it.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
