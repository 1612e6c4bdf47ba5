# Every target installs what it needs, idempotently, on a fresh Debian machine (root, PyPI reachable).
# Three Python environments, because their numpy majors differ (docs/decisions/0002-three-venvs.md):
#   .venv          project: operator + training + tests (numpy 2, TensorFlow, Feast, kfp, kopf)
#   .venv-serving  what Triton's Python-backend steps import (numpy 1.26, FAISS, onnxruntime, redis)
#   .venv-triton   only carries the tritonserver binary from PyPI's nvidia-pytriton (pins numpy<2)

PYTHON       ?= python3.11
PIP_VERSION  := 26.3
VENV         := .venv
SERVING_VENV := .venv-serving
TRITON_VENV  := .venv-triton
POLICY_VENV  := .venv-checkov
PYTHON_MM    := $(shell $(PYTHON) -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")' 2>/dev/null)
TRITON_HOME  := $(TRITON_VENV)/lib/python$(PYTHON_MM)/site-packages/pytriton/tritonserver
TRITON_STUB  := $(TRITON_HOME)/backends/python/triton_python_backend_stub
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PIP_FLAGS    ?= -q
PYTEST_ARGS  ?=

.PHONY: help venv serving-venv triton policy redis chromium tools kube cluster-packages cluster cluster-status cluster-down images test test-cluster test-unit lint format bench demo crds pipelines lock clean

help:
	@echo "make demo   local mode end to end (installs what it needs)"
	@echo "make test   the whole default test suite (installs what it needs)"
	@echo "make cluster / cluster-status / cluster-down   a real single-node Kubernetes here"
	@echo "make images   the project's images;  make test-cluster   tests/cluster on that cluster"
	@echo "make lint   ruff + mypy;  make bench   benchmarks;  make lock   re-pin constraints/"

$(VENV)/.installed: pyproject.toml constraints/main.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) pip==$(PIP_VERSION)
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) -c constraints/main.txt -e '.[operator,train,serve,dev]'
	touch $@
venv: $(VENV)/.installed

$(SERVING_VENV)/.installed: pyproject.toml constraints/serving.txt
	test -x $(SERVING_VENV)/bin/python || $(PYTHON) -m venv $(SERVING_VENV)
	$(SERVING_VENV)/bin/python -m pip install $(PIP_FLAGS) pip==$(PIP_VERSION)
	$(SERVING_VENV)/bin/python -m pip install $(PIP_FLAGS) -c constraints/serving.txt -e '.[serve]'
	$(SERVING_VENV)/bin/python -c 'import numpy, sys; sys.exit(f"serving venv needs numpy<2, has {numpy.__version__}" if int(numpy.__version__.split(".")[0]) >= 2 else 0)'
	touch $@
serving-venv: $(SERVING_VENV)/.installed

# The stub for our Python version goes next to libtriton_python.so, where Triton looks for it.
$(TRITON_VENV)/.installed: constraints/triton.txt
	test -x $(TRITON_VENV)/bin/python || $(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/python -m pip install $(PIP_FLAGS) pip==$(PIP_VERSION)
	$(TRITON_VENV)/bin/python -m pip install $(PIP_FLAGS) -c constraints/triton.txt nvidia-pytriton
	cp $(TRITON_HOME)/python_backend_stubs/$(PYTHON_MM)/triton_python_backend_stub $(TRITON_STUB)
	touch $@
triton: $(TRITON_VENV)/.installed

# checkov, the policy engine tests/integration/policy runs on the rendered manifests (Pod Security
# Standards `restricted`); its own venv, because its pins (boto3, aiohttp, ...) are not ours.
$(POLICY_VENV)/.installed: constraints/checkov.txt
	test -x $(POLICY_VENV)/bin/python || $(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/python -m pip install $(PIP_FLAGS) pip==$(PIP_VERSION)
	$(POLICY_VENV)/bin/python -m pip install $(PIP_FLAGS) -c constraints/checkov.txt checkov
	touch $@
policy: $(POLICY_VENV)/.installed

redis:
	@command -v redis-server >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends redis-server; }
	@redis-server --version

# Debian's chromium + its chromedriver for tests/e2e/test_demo_page.py (Selenium never downloads a browser).
chromium:
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium chromium-driver; }
	@chromedriver --version

tools: triton serving-venv redis policy

# Kubernetes 1.20.2 (apiserver, controller-manager, scheduler, kubelet, proxy, kubectl) + etcd, built
# once from Debian's source package into the user's cache (docs/kubernetes-testing.md): ~10 min cold,
# then a no-op. tests/integration/kube runs the first two; the single-node cluster runs all.
KUBE_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/recsys-operator/kube-1.20.2
kube:
	@{ command -v openssl && command -v flock && command -v kubectl && command -v patch && command -v gcc; } >/dev/null || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    --no-install-recommends openssl util-linux patch gcc libc6-dev $$(command -v kubectl >/dev/null || echo kubernetes-client); }
	@bash scripts/kube/build.sh $(KUBE_CACHE)

# The single-node cluster's Debian packages (scripts/cluster/, docs/kubernetes-testing.md).
CLUSTER_PACKAGES := docker.io containerd runc mmdebstrap containernetworking-plugins iptables iproute2 \
  socat conntrack dnsmasq-base curl
cluster-packages:
	@{ command -v dockerd && command -v mmdebstrap && command -v socat && command -v conntrack && \
	   command -v dnsmasq && command -v curl && test -x /usr/lib/cni/bridge; } >/dev/null || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    --no-install-recommends $(CLUSTER_PACKAGES); }

# A real single-node Kubernetes on this machine: `make cluster`, `make cluster-status`, `make cluster-down`
# (also `recsys cluster up|status|down`). KUBECONFIG: see `make cluster-status`.
cluster: kube cluster-packages
	@$(SUDO) bash scripts/cluster/up.sh
cluster-status:
	@bash scripts/cluster/status.sh
cluster-down:
	@$(SUDO) bash scripts/cluster/down.sh

# The project's images (operator, workloads, serving) from the Dockerfile, on a Debian base made
# with mmdebstrap, in the test bed's dockerd (nothing is pulled).
images: venv kube cluster-packages
	@$(SUDO) bash scripts/cluster/images.sh $(VENV)/bin/python

# tests/cluster against the single-node cluster (brought up when it is not running).
test-cluster: venv images cluster
	$(VENV)/bin/pytest -m cluster tests/cluster $(PYTEST_ARGS)

test: venv tools kube chromium
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-unit: venv
	$(VENV)/bin/pytest -m unit $(PYTEST_ARGS)

# mypy's targets (operator, workloads, local, tests, bench) are `files` in pyproject's [tool.mypy];
# lint-imports holds the layering declared in pyproject's [tool.importlinter] (decision 0021).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv tools
	@for b in bench/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

# CRDs are generated from the pydantic API types; tests/unit/operator/test_crds.py fails on drift.
crds: venv
	$(VENV)/bin/python -m recsys_operator.api.crd --out crds

# Compiled KFP IR of every pipeline; tests/unit/pipelines fails on drift.
pipelines: venv
	$(VENV)/bin/python -m recsys_workloads.pipelines.compile

demo: venv tools
	$(VENV)/bin/recsys demo $(DEMO_ARGS)

# Re-pin constraints/ from fresh resolutions of pyproject.toml (run after changing dependencies).
lock:
	rm -rf /tmp/recsys-lock && mkdir -p /tmp/recsys-lock
	for spec in "main:.[operator,train,serve,dev]:" "serving:.[serve]:numpy<2" "triton:nvidia-pytriton:" "checkov:checkov:"; do \
	  name=$${spec%%:*}; rest=$${spec#*:}; req=$${rest%%:*}; extra=$${rest#*:}; \
	  $(PYTHON) -m venv /tmp/recsys-lock/$$name && \
	  /tmp/recsys-lock/$$name/bin/python -m pip install $(PIP_FLAGS) pip==$(PIP_VERSION) && \
	  /tmp/recsys-lock/$$name/bin/python -m pip install $(PIP_FLAGS) "$$req" $$extra && \
	  { echo "# Pinned by 'make lock' on Python $(PYTHON_MM) (x86_64); do not edit by hand."; \
	    /tmp/recsys-lock/$$name/bin/python -m pip freeze --exclude-editable | grep -v '^recsys-operator'; \
	  } > constraints/$$name.txt || exit 1; \
	done

clean:
	rm -rf $(VENV) $(SERVING_VENV) $(TRITON_VENV) $(POLICY_VENV) .mypy_cache .ruff_cache .pytest_cache
