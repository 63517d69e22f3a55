# The images the Kubeflow Pipelines v2 / Vertex AI spec runs (kubeflow_v2_runner.py --image, and
# --trainer-image for a Trainer on GPUs). Every component runs `python -m tfx...` in it; petunet's
# modules are found on PYTHONPATH.
#
#   docker build -t petunet:v1 .                              # CPU: every component
#   docker build --build-arg EXTRAS=gpu -t petunet-gpu:v1 .   # the Trainer on NVIDIA GPUs
#
# The GPU image adds the `gpu` extra (tensorflow[and-cuda]: CUDA and cuDNN from PyPI), so it needs
# no CUDA base image: Vertex AI's GPU machines bring the driver.
#
# The ENV carries what `startup.start()` sets before TensorFlow loads (Keras 2, oneDNN's kernels on
# every x86-64 CPU): TFX's container entrypoint may import TensorFlow before any petunet code runs.
FROM python:3.10-slim

ARG EXTRAS=""
ENV TF_USE_LEGACY_KERAS=1 \
    TF_ENABLE_ONEDNN_OPTS=1 \
    PYTHONPATH=/petunet \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /petunet
RUN pip install --no-cache-dir uv
COPY pyproject.toml uv.lock .python-version ./
RUN uv sync --frozen --no-dev --no-install-project --compile-bytecode ${EXTRAS:+--extra $EXTRAS}
COPY . .
