"""Container images the pipeline steps run in on a KFP server (the Dockerfile's targets)."""

WORKLOADS_IMAGE = "ghcr.io/recsys-operator/workloads:0.1.0"
