"""Generated CRDs: in sync with the models, structural, and printer columns that resolve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from recsys_operator.api import crd

CRDS = Path(__file__).resolve().parents[3] / "crds"
FORBIDDEN = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "const", "title"}


def test_checked_in_crds_match_the_models() -> None:
    expected = crd.rendered()
    on_disk = {p.name: p.read_text() for p in CRDS.glob("recsys.io_*.yaml")}
    assert on_disk == expected, "crds/ drifted from operator/recsys_operator/api: run `make crds`"


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, child in node.get("properties", {}).items():
            found += _walk(child, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            found += _walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            found += _walk(node["additionalProperties"], f"{path}{{}}")
    return found


@pytest.mark.parametrize("render", [crd.recommender_system_crd, crd.training_run_crd])
def test_schemas_are_structural(render: Any) -> None:
    schema = render()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert not FORBIDDEN & set(node), f"{path} uses {FORBIDDEN & set(node)}"
        # Structural schemas allow exactly one untyped node: int-or-string (experiment arm versions).
        assert "type" in node or node.get("x-kubernetes-int-or-string") is True, f"{path} has no type"
        if "properties" in node:
            assert node["type"] == "object"
            assert "additionalProperties" not in node, f"{path} mixes properties and additionalProperties"
        if node.get("exclusiveMinimum") is not None:
            assert node["exclusiveMinimum"] is True and "minimum" in node


@pytest.mark.parametrize("render", [crd.recommender_system_crd, crd.training_run_crd])
def test_every_spec_field_is_described_for_kubectl_explain(render: Any) -> None:
    spec = render()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    fields = [(p, n) for p, n in _walk(spec) if p and not p.endswith(("[]", "}"))]
    assert [p for p, n in fields if "description" not in n] == []


def _resolves(schema: dict[str, Any], json_path: str) -> bool:
    node = schema
    for part in json_path.lstrip(".").split("."):
        name = part.split("[", 1)[0]
        node = node.get("properties", {}).get(name) or {}
        if "[" in part:
            node = node.get("items", {})
        if not node:
            return False
    return True


@pytest.mark.parametrize("render", [crd.recommender_system_crd, crd.training_run_crd])
def test_printer_columns_point_at_fields_that_exist(render: Any) -> None:
    version = render()["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    for column in version["additionalPrinterColumns"]:
        path = column["jsonPath"]
        if path.startswith(".metadata"):
            continue
        assert _resolves(
            schema,
            path.replace('[?(@.type=="', "[").split('")]')[0]
            + ("." + path.split(".")[-1] if "conditions" in path else ""),
        ), path


def test_nullable_nested_objects_get_no_default_so_layouts_stay_exclusive() -> None:
    spec = crd.recommender_system_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][
        "spec"
    ]
    generator = spec["properties"]["dataSources"]["properties"]["generator"]
    assert generator["nullable"] is True
    assert "default" not in generator
    assert spec["properties"]["serving"]["default"] == {}


def test_status_schemas_carry_no_defaults() -> None:
    for render in (crd.recommender_system_crd, crd.training_run_crd):
        status = render()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        assert "default" not in yaml.safe_dump(status).split("description")[0]
        assert all("default" not in node for _, node in _walk(status))
