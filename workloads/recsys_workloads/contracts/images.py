"""Container images of the Dockerfile's targets: operator, pipeline steps and front doors, Triton pods.

The one place their names live: `make images` tags what it builds with them
(`python -m recsys_workloads.contracts.images` prints `target=image` lines), the CRD
defaults and the compiled pipelines use them, and deploy/base names OPERATOR_IMAGE (a test
ties the two).
"""

OPERATOR_IMAGE = "ghcr.io/recsys-operator/operator:0.1.0"
WORKLOADS_IMAGE = "ghcr.io/recsys-operator/workloads:0.1.0"
SERVING_IMAGE = "ghcr.io/recsys-operator/serving:0.1.0"
IMAGES = {"operator": OPERATOR_IMAGE, "workloads": WORKLOADS_IMAGE, "serving": SERVING_IMAGE}

if __name__ == "__main__":
    for target, image in IMAGES.items():
        print(f"{target}={image}")
