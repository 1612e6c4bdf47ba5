# syntax=docker/dockerfile:1.7
# Three images from one tree, each installing one pyproject extra with the pinned constraints
# (tests/unit/test_dockerfile.py keeps stages and extras consistent; `make images` builds them):
#   operator   control plane: kopf, kubernetes, kfp client, boto3; no TensorFlow, FAISS or Feast
#   workloads  training and pipeline steps, API, event service: TensorFlow/Keras-RS, FAISS, Feast, kfp
#   serving    NVIDIA Triton + the lean serving venv (numpy<2) its Python-backend steps import
#
# Each image gets one venv, built in a stage of its own: pip's inputs (wheelhouse/, whose pip.conf
# may name a CA bundle, extra indexes or local wheels) never reach a runtime image. A venv holds
# only the dependencies (scripts/images/requirements.py reads them from pyproject.toml); the
# project itself is one wheel, built once and installed last in each image, so a source change
# rebuilds a small layer, not a venv of gigabytes.
# It builds with BuildKit and with the classic builder (DOCKER_BUILDKIT=0, which the CPU test bed
# uses: it cannot pull BuildKit's frontend); the classic one builds every stage before the target.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm
# 24.12 = Triton 2.53 on Ubuntu 24.04 with Python 3.12 (local mode runs 2.51 from PyPI; same configs).
ARG TRITON_IMAGE=nvcr.io/nvidia/tritonserver:24.12-py3
# Where the serving image's tritonserver comes from: `image` (TRITON_IMAGE ships it in
# /opt/tritonserver) or `pypi` (PyPI's nvidia-pytriton, the binary local mode runs, on any Debian-like
# TRITON_IMAGE with python3-venv and libpython3: the CPU test bed's choice).
ARG TRITON_FROM=image

# The requirements of each extra, as files: a pyproject.toml change that leaves them as they were
# (a tool's settings) produces the same files, so the venv layers after them stay cached.
FROM ${PYTHON_IMAGE} AS requirements
COPY pyproject.toml scripts/images/requirements.py /src/
RUN mkdir /requirements && for extra in operator train serve; do \
      python3 /src/requirements.py /src/pyproject.toml "$extra" > "/requirements/$extra.txt"; done

FROM ${PYTHON_IMAGE} AS dependencies
WORKDIR /src
COPY constraints/ constraints/
COPY wheelhouse/ wheelhouse/

FROM ${PYTHON_IMAGE} AS source
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY workloads/ workloads/
COPY local/ local/
COPY triton_models/ triton_models/

FROM ${PYTHON_IMAGE} AS project-wheel
ENV PIP_CONFIG_FILE=/src/wheelhouse/pip.conf PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=dependencies /src /src
COPY --from=source /src /src
RUN python3 -m venv /tmp/build && /tmp/build/bin/pip wheel -q --no-deps -w /wheels /src && rm -rf /tmp/build

FROM ${PYTHON_IMAGE} AS operator-venv
ENV PIP_CONFIG_FILE=/src/wheelhouse/pip.conf PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=dependencies /src /src
COPY --from=requirements /requirements/operator.txt /src/requirements/
RUN python3 -m venv /opt/recsys \
    && /opt/recsys/bin/pip install -q -c /src/constraints/main.txt -r /src/requirements/operator.txt

FROM ${PYTHON_IMAGE} AS operator
# kopf names itself after the login user (getpass.getuser()): USER answers for any uid a
# securityContext picks, and the image's own uid has a passwd entry as well.
RUN echo 'recsys:x:65532:65532:recsys-operator:/tmp:/usr/sbin/nologin' >> /etc/passwd \
    && echo 'recsys:x:65532:' >> /etc/group
COPY --from=operator-venv /opt/recsys /opt/recsys
COPY --from=project-wheel /wheels /wheels
RUN /opt/recsys/bin/pip install -q --no-deps --no-index --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/recsys/bin:${PATH} \
    USER=recsys LOGNAME=recsys HOME=/tmp
USER 65532:65532
ENTRYPOINT ["kopf", "run", "--all-namespaces", "--liveness=http://0.0.0.0:8080/healthz", "-m", "recsys_operator.handlers"]
CMD ["--standalone"]

FROM ${PYTHON_IMAGE} AS workloads-venv
ENV PIP_CONFIG_FILE=/src/wheelhouse/pip.conf PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=dependencies /src /src
COPY --from=requirements /requirements/train.txt /src/requirements/
RUN python3 -m venv /opt/recsys \
    && /opt/recsys/bin/pip install -q -c /src/constraints/main.txt -r /src/requirements/train.txt

FROM ${PYTHON_IMAGE} AS workloads
RUN echo 'recsys:x:1000:1000:recsys:/tmp:/usr/sbin/nologin' >> /etc/passwd \
    && echo 'recsys:x:1000:' >> /etc/group
COPY --from=workloads-venv /opt/recsys /opt/recsys
COPY --from=project-wheel /wheels /wheels
RUN /opt/recsys/bin/pip install -q --no-deps --no-index --no-cache-dir /wheels/*.whl && rm -rf /wheels
# HOME in /tmp: TensorFlow, Keras and Hugging Face write caches there; the pods' root is read-only.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/recsys/bin:${PATH} \
    USER=recsys LOGNAME=recsys HOME=/tmp HF_HUB_OFFLINE=1
USER 1000:1000
ENTRYPOINT ["recsys"]

FROM ${TRITON_IMAGE} AS serving-venv
ARG TRITON_FROM
ENV PIP_CONFIG_FILE=/src/wheelhouse/pip.conf PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=dependencies /src /src
COPY --from=requirements /requirements/serve.txt /src/requirements/
# NVIDIA's image has python3 without venv; the Debian base has both.
RUN python3 -c 'import ensurepip' 2>/dev/null \
    || { apt-get update && apt-get install -y --no-install-recommends python3-venv && rm -rf /var/lib/apt/lists/*; }
RUN python3 -m venv /opt/recsys-serving \
    && /opt/recsys-serving/bin/pip install -q -c /src/constraints/serving.txt -r /src/requirements/serve.txt
# `pypi`: the tritonserver tree of nvidia-pytriton, with the Python-backend stub of this python3
# where Triton looks for it (as the Makefile does for local mode), and the wheel's bundled
# libraries: its binaries find them at $ORIGIN/../../../nvidia_pytriton.libs (bin/) and
# $ORIGIN/../../../../nvidia_pytriton.libs (backends/python/), i.e. /nvidia_pytriton.libs for a
# tree at /opt/tritonserver. `image`: two empty folders.
RUN mkdir -p /opt/triton-from-pypi /opt/triton-libs-from-pypi && if [ "$TRITON_FROM" = pypi ]; then \
      py=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")') \
      && python3 -m venv /tmp/pytriton \
      && /tmp/pytriton/bin/pip install -q -c /src/constraints/triton.txt nvidia-pytriton \
      && site=$(echo /tmp/pytriton/lib/python*/site-packages) && home=$site/pytriton/tritonserver \
      && cp -a "$home/bin" "$home/backends" "$home/caches" /opt/triton-from-pypi/ \
      && cp "$home/python_backend_stubs/$py/triton_python_backend_stub" /opt/triton-from-pypi/backends/python/ \
      && cp -a "$site/nvidia_pytriton.libs/." /opt/triton-libs-from-pypi/ \
      && rm -rf /tmp/pytriton; \
    elif [ "$TRITON_FROM" != image ]; then echo "TRITON_FROM must be image or pypi, got $TRITON_FROM" >&2; exit 1; fi

FROM ${TRITON_IMAGE} AS serving
RUN echo 'recsys:x:1000:1000:recsys:/tmp:/usr/sbin/nologin' >> /etc/passwd \
    && echo 'recsys:x:1000:' >> /etc/group
COPY --from=serving-venv /opt/recsys-serving /opt/recsys-serving
COPY --from=serving-venv /opt/triton-from-pypi/ /opt/tritonserver/
COPY --from=serving-venv /opt/triton-libs-from-pypi/ /nvidia_pytriton.libs/
COPY --from=project-wheel /wheels /wheels
RUN /opt/recsys-serving/bin/pip install -q --no-deps --no-index --no-cache-dir /wheels/*.whl && rm -rf /wheels
# The step templates the init container renders a model version's repository from.
COPY --from=source /src/triton_models /opt/recsys/triton_models
# Triton's Python-backend stub runs the first python3 on PATH: the serving venv goes first.
ENV PATH=/opt/recsys-serving/bin:/opt/tritonserver/bin:${PATH} VIRTUAL_ENV=/opt/recsys-serving \
    RECSYS_TRITON_HOME=/opt/tritonserver RECSYS_SERVING_VENV=/opt/recsys-serving RECSYS_HOME=/opt/recsys \
    USER=recsys LOGNAME=recsys HOME=/tmp
USER 1000:1000
ENTRYPOINT ["tritonserver", "--model-repository=/models", "--model-control-mode=explicit"]
