"""petunet's custom TFX components, one folder each."""

import models  # noqa: F401  (selects Keras 2 before TFX imports TensorFlow)
