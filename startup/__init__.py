"""Process start-up, made explicitly by every entry point: `startup.start()` first, before
anything imports TensorFlow. Importing any petunet module changes nothing in the process.

What it does, in order: selects Keras 2 (TF_USE_LEGACY_KERAS=1: Transform and TFMA 0.47 expect
tf_keras), turns on oneDNN's CPU kernels where TensorFlow would not (`cpu.use_onednn_everywhere`),
silences the libraries' warnings about their own future, optionally filters the C++ start-up
noise from stderr (programs; the runners filter their own runs), and applies the library patches
(`startup/patches.py`), each checked against its library's version. The environment variables
reach every process started from this one (Beam's workers, the cluster's workers); a container
that TFX's Kubeflow entrypoint starts gets them from the image's ENV (Dockerfile).
"""

from __future__ import annotations

import os

KERAS_2 = {"TF_USE_LEGACY_KERAS": "1"}


def start(*, filter_stderr: bool = False, console_logging: bool = False) -> None:
    """The start-up every entry point makes first (idempotent). `console_logging`: the run's
    console lines (startup/console.py), set up before TensorFlow loads, which otherwise gives its
    logger a handler of its own that prints what the console's filter would drop."""
    from startup import console, cpu, patches

    for key, value in KERAS_2.items():
        os.environ.setdefault(key, value)
    cpu.use_onednn_everywhere()
    console.silence_python_warnings()
    if filter_stderr:
        console.filter_process_stderr()
    if console_logging:
        console.configure_logging()
    with console.StderrFilter():  # the patches load TensorFlow: its C++ start-up lines go
        patches.apply(patches.PROCESS_PATCHES)
