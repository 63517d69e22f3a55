"""Part of petunet; see docs/ARCHITECTURE.md."""

import os

# Transform and TFMA 0.47 expect Keras 2: switch before anything imports TensorFlow.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
