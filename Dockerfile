# syntax=docker/dockerfile:1.7
# Three images from one tree, each installing one pyproject extra with the pinned constraints
# (tests/unit/test_dockerfile.py keeps stages and extras consistent; it cannot build here).
#   operator   control plane: kopf, kubernetes, kfp client, boto3; no TensorFlow, FAISS or Feast
#   workloads  training and pipeline steps: TensorFlow/Keras-RS, FAISS, Feast, kfp
#   serving    NVIDIA Triton + the lean serving venv (numpy<2) its Python-backend steps import

ARG PYTHON_IMAGE=python:3.12-slim-bookworm
# 24.12 = Triton 2.53 on Ubuntu 24.04 with Python 3.12 (local mode runs 2.51 from PyPI; same configs).
ARG TRITON_IMAGE=nvcr.io/nvidia/tritonserver:24.12-py3

FROM ${PYTHON_IMAGE} AS source
WORKDIR /src
COPY pyproject.toml README.md ./
COPY constraints/ constraints/
COPY operator/ operator/
COPY workloads/ workloads/
COPY triton_models/ triton_models/

FROM ${PYTHON_IMAGE} AS operator
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=source /src /src
RUN pip install --no-cache-dir -c /src/constraints/main.txt "/src[operator]" && rm -rf /src
USER 65532:65532
ENTRYPOINT ["kopf", "run", "--all-namespaces", "--liveness=http://0.0.0.0:8080/healthz", "-m", "recsys_operator.handlers"]
CMD ["--standalone"]

FROM ${PYTHON_IMAGE} AS workloads
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=source /src /src
RUN pip install --no-cache-dir -c /src/constraints/main.txt "/src[train]" && rm -rf /src
USER 1000:1000
ENTRYPOINT ["recsys"]

FROM ${TRITON_IMAGE} AS serving
# Triton's Python-backend stub runs the first python3 on PATH: the serving venv goes first.
RUN apt-get update && apt-get install -y --no-install-recommends python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/recsys-serving
COPY --from=source /src /src
RUN /opt/recsys-serving/bin/pip install --no-cache-dir -c /src/constraints/serving.txt "/src[serve]" \
    && rm -rf /src
# The step templates the init container renders a model version's repository from.
COPY --from=source /src/triton_models /opt/recsys/triton_models
ENV PATH=/opt/recsys-serving/bin:${PATH} VIRTUAL_ENV=/opt/recsys-serving \
    RECSYS_TRITON_HOME=/opt/tritonserver RECSYS_SERVING_VENV=/opt/recsys-serving RECSYS_HOME=/opt/recsys
USER 1000:1000
ENTRYPOINT ["tritonserver", "--model-repository=/models", "--model-control-mode=explicit"]
