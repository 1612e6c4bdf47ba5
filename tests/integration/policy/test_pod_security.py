"""Every pod the operator renders passes the Pod Security Standards `restricted` profile.

Checked by a policy engine, not by reading our own YAML: checkov (its own venv, `make policy`)
runs its Kubernetes checks that make up the restricted profile on the manifests
`desired_objects` and the training Job render for specs that reach every pod shape, plus
"no service account token where none is needed". The 1.20 test cluster has no PodSecurity
admission, so this is where the profile is enforced. A planted privileged container shows the
check bites.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests.common import Manifest, Owner
from recsys_operator.manifests.desired import desired_objects
from recsys_operator.manifests.training_job import job

ROOT = Path(__file__).resolve().parents[3]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
OWNER = Owner(name="homepage", namespace="shop", uid="1234-abcd")
RUN = {"name": "homepage-initial", "uid": "0123456789abcdef"}

# checkov's Kubernetes checks that together are the PSS `restricted` rules (privileged, host
# namespaces and ports, docker socket, privilege escalation, non-root, capabilities dropped and
# none added, seccomp RuntimeDefault, security contexts present), and CKV_K8S_38: no API token.
RESTRICTED = (
    "CKV_K8S_16", "CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19", "CKV_K8S_20", "CKV_K8S_23",
    "CKV_K8S_25", "CKV_K8S_26", "CKV_K8S_27", "CKV_K8S_28", "CKV_K8S_29", "CKV_K8S_30",
    "CKV_K8S_31", "CKV_K8S_37", "CKV_K8S_39", "CKV_K8S_38",
)  # fmt: skip
SPECS: dict[str, dict[str, Any]] = {
    "default": {},
    "fused-gpu-external-valkey-tokens": {
        "serving": {"graph": "fused", "resources": {"gpu": 1}},
        "featureStore": {"onlineStore": {"address": "valkey.shop.svc:6379"}},
        "events": {"replicas": 2, "auth": {"tokenSecretRef": {"name": "events-token"}}},
        "api": {"auth": {"tokenSecretRef": {"name": "api-token"}}},
    },
}


def _rendered() -> list[Manifest]:
    objects: list[Manifest] = []
    for fields in SPECS.values():
        spec = RecommenderSystemSpec.model_validate(fields)
        objects += desired_objects(OWNER, spec, model_version=None)
        objects += desired_objects(OWNER, spec, model_version=3)
        objects.append(job(OWNER, RUN, spec, "initial", {"config": "{}"}, "shop-homepage-initial-01234567"))
    return objects


def _failed(objects: list[Manifest], tmp_path: Path) -> list[tuple[str, str]]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: `make policy` (part of `make test`) installs checkov")
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(yaml.safe_dump_all(objects))
    out = subprocess.run(
        [str(CHECKOV), "-f", str(manifests), "--framework", "kubernetes", "--check", ",".join(RESTRICTED),
         "--output", "json", "--quiet", "--skip-download"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = json.loads(out.stdout)
    report = report[0] if isinstance(report, list) else report
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] > 0
    return [(f["check_id"], f["resource"]) for f in report["results"].get("failed_checks", [])]


def test_every_rendered_pod_passes_the_restricted_profile_and_mounts_no_api_token(tmp_path: Path) -> None:
    objects = _rendered()
    pods = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")]
    assert {o["kind"] for o in pods} == {"Deployment", "StatefulSet", "Job"}

    assert _failed(objects, tmp_path) == []


def test_a_privileged_container_with_a_token_fails_the_check(tmp_path: Path) -> None:
    planted = copy.deepcopy(next(o for o in _rendered() if o["kind"] == "Deployment"))
    pod = planted["spec"]["template"]["spec"]
    pod["containers"][0]["securityContext"] = {"privileged": True, "allowPrivilegeEscalation": True}
    pod.pop("automountServiceAccountToken")

    failed = {check for check, _ in _failed([planted], tmp_path)}

    assert {"CKV_K8S_16", "CKV_K8S_20", "CKV_K8S_38"} <= failed
