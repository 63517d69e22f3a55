"""The model side of petunet: contracts, config, network, transform, training, evaluation, serving.

TFX executors import these modules by path, and Transform and TFMA 0.47 expect Keras 2 (tf_keras):
the switch must happen before anything imports TensorFlow. Every other package and entry point
imports this one first, so this is the one place that sets it, that turns on oneDNN's kernels
where TensorFlow would not (`cpu.use_onednn_everywhere`), and the place that quiets what the
libraries print while they start: a program run as `python -m models...` or `python -m bench...`
(the prediction and batch CLIs, the cluster workers, the benchmarks) gets the console's filter on
its stderr before TensorFlow loads; the runners set it up themselves.
"""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from models import console, cpu  # noqa: E402  (after the Keras switch; neither imports TensorFlow)

cpu.use_onednn_everywhere()

console.silence_python_warnings()
if sys.argv[:1] == ["-m"]:  # runpy imports the program's packages before it sets argv[0]
    console.filter_process_stderr()
