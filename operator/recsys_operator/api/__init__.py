"""API types of group recsys.io, version v1alpha1: pydantic models the CRDs are generated from."""

GROUP = "recsys.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
