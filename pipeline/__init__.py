"""How a run is assembled: the TFX pipeline's wiring, the run report, synthetic data sets."""

import models  # noqa: F401  (selects Keras 2 before TFX imports TensorFlow)
