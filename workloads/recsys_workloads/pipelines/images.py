"""Container images of the Dockerfile's targets: pipeline steps, front doors, Triton pods."""

WORKLOADS_IMAGE = "ghcr.io/recsys-operator/workloads:0.1.0"
SERVING_IMAGE = "ghcr.io/recsys-operator/serving:0.1.0"
