# The image the Kubeflow Pipelines v2 / Vertex AI spec runs (kubeflow_v2_runner.py --image).
# Every component runs `python -m tfx...` in it; petunet's modules are found on PYTHONPATH.
FROM python:3.10-slim

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONPATH=/petunet \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /petunet
RUN pip install --no-cache-dir uv
COPY pyproject.toml uv.lock .python-version ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
