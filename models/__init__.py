"""The model side of petunet: network, geometry, preprocessing, training, inference.

TFX executors import these modules by path, so the Keras switch must happen here, before any
module of the package can import TensorFlow: Transform and TFMA 0.47 expect Keras 2 (tf_keras).
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
