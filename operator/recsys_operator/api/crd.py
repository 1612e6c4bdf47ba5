"""Generate the CustomResourceDefinitions in `crds/` from the pydantic API types.

Pydantic writes JSON Schema 2020-12; Kubernetes wants a structural OpenAPI v3.0 subset
that also loads on 1.20: no `$ref`, `anyOf` with null becomes `nullable`, `const`
becomes a one-value enum, numeric `exclusiveMinimum` becomes the boolean form, titles go.
`make crds` writes the files; a test fails when they drift from the models.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from recsys_operator.api import GROUP, VERSION
from recsys_operator.api import recommender_system as rs
from recsys_operator.api import training_run as tr

# `kubectl get recsys-all` lists both kinds. Not `recsys`: that is RecommenderSystem's short
# name, and a category of the same name makes kubectl expand `get recsys NAME` to both kinds
# ("you must specify only one resource").
CATEGORY = "recsys-all"
Schema = dict[str, Any]


def _resolve(node: Any, defs: Mapping[str, Schema]) -> Any:
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = _resolve(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **_resolve(extra, defs)}
    return {k: _resolve(v, defs) for k, v in node.items() if k != "$defs"}


def _structural(node: Any) -> Any:
    """Rewrite one resolved JSON Schema node into Kubernetes' structural OpenAPI subset."""
    if isinstance(node, list):
        return [_structural(item) for item in node]
    if not isinstance(node, dict):
        return node
    for combinator in ("anyOf", "oneOf"):
        options = node.get(combinator)
        if options:
            non_null = [o for o in options if o.get("type") != "null"]
            if len(non_null) == 1 and len(options) == 2:
                merged = {**non_null[0], **{k: v for k, v in node.items() if k != combinator}}
                merged["nullable"] = True
                node = merged
            else:
                raise ValueError(f"cannot express {combinator} of {options} structurally")
    node = {k: v for k, v in node.items() if k not in ("title", "discriminator")}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "enum" in node and "type" not in node:
        node["type"] = "string"
    for bound, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), (int, float)) and not isinstance(node.get(bound), bool):
            node[flag] = node.pop(bound)
            node[bound] = True
    if node.get("format") == "date-time" and node.get("default") is None:
        node.pop("default", None)
    if "default" in node and node["default"] in (None, ""):
        # Null defaults are what omission means anyway; Kubernetes 1.20 also reads an empty
        # string default as null and refuses the CRD. The model fills both when it parses.
        node.pop("default")
    if "properties" in node:
        # Structural schemas forbid additionalProperties beside properties; the server prunes.
        node.pop("additionalProperties", None)
        required = set(node.get("required", []))
        for name, child in node["properties"].items():
            if name not in required and "properties" in child and "default" not in child:
                # Defaulting recurses only into objects that exist: an empty default makes it.
                child["default"] = {}
    return {k: _structural(v) for k, v in node.items()}


def _without_defaults(node: Any) -> Any:
    """Status is the operator's output: the server must not invent values in it."""
    if isinstance(node, list):
        return [_without_defaults(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {k: _without_defaults(v) for k, v in node.items() if k != "default"}


def openapi_schema(model: type[BaseModel]) -> Schema:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    schema: Schema = _structural(_resolve(raw, raw.get("$defs", {})))
    return schema


def _resource_schema(spec: type[BaseModel], status: type[BaseModel], description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": openapi_schema(spec),
            "status": _without_defaults(openapi_schema(status)),
        },
    }


def _condition_column(type_: str, field: str, name: str, priority: int = 0) -> dict[str, Any]:
    column: dict[str, Any] = {
        "name": name,
        "type": "string",
        "jsonPath": f'.status.conditions[?(@.type=="{type_}")].{field}',
    }
    if priority:
        column["priority"] = priority
    return column


def _crd(
    kind: str, plural: str, short_names: list[str], schema: Schema, columns: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": [CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def recommender_system_crd() -> dict[str, Any]:
    columns: list[dict[str, Any]] = [
        _condition_column(rs.READY, "status", "Ready"),
        {"name": "Serving", "type": "integer", "jsonPath": ".status.model.currentVersion"},
        {"name": "Transition", "type": "string", "jsonPath": ".status.model.transition"},
        {"name": "Last Training", "type": "string", "jsonPath": ".status.lastTrainingRun"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        _condition_column(rs.READY, "reason", "Reason", priority=1),
        _condition_column(rs.READY, "message", "Message", priority=1),
        {"name": "Experiment", "type": "string", "jsonPath": ".status.experiment.phase", "priority": 1},
        {"name": "Winner", "type": "string", "jsonPath": ".status.experiment.winner", "priority": 1},
        {"name": "Arms", "type": "string", "jsonPath": ".status.experiment.summary", "priority": 1},
    ]
    schema = _resource_schema(
        rs.RecommenderSystemSpec,
        rs.RecommenderSystemStatus,
        "A multistage, multimodal homepage recommender: trained, indexed, served and fine-tuned by the operator.",
    )
    return _crd(rs.KIND, rs.PLURAL, rs.SHORT_NAMES, schema, columns)


def training_run_crd() -> dict[str, Any]:
    columns: list[dict[str, Any]] = [
        {"name": "Recommender", "type": "string", "jsonPath": ".spec.recommenderRef.name"},
        {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
        {"name": "State", "type": "string", "jsonPath": ".status.state"},
        {"name": "Recall@K", "type": "number", "jsonPath": ".status.metrics.recallAtK"},
        {"name": "AUC", "type": "number", "jsonPath": ".status.metrics.auc"},
        {"name": "Queries", "type": "integer", "jsonPath": ".status.metrics.queries"},
        _condition_column(tr.SUCCEEDED, "reason", "Outcome"),
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Run", "type": "string", "jsonPath": ".status.kfpRunId", "priority": 1},
        {"name": "Dropped", "type": "integer", "jsonPath": ".status.data.droppedInteractions", "priority": 1},
        {"name": "Days To", "type": "integer", "jsonPath": ".status.metrics.lastTrainedDay", "priority": 1},
        {"name": "Eval Day", "type": "integer", "jsonPath": ".status.metrics.evalDay", "priority": 1},
        _condition_column(tr.SUCCEEDED, "message", "Message", priority=1),
    ]
    schema = _resource_schema(
        tr.TrainingRunSpec,
        tr.TrainingRunStatus,
        "One initial or incremental training of a RecommenderSystem.",
    )
    return _crd(tr.KIND, tr.PLURAL, tr.SHORT_NAMES, schema, columns)


def rendered() -> dict[str, str]:
    """File name -> YAML text of every CRD."""
    crds = {rs.PLURAL: recommender_system_crd(), tr.PLURAL: training_run_crd()}
    header = "# Generated by `make crds` from operator/recsys_operator/api; do not edit.\n"
    return {
        f"{GROUP}_{plural}.yaml": header + yaml.safe_dump(crd, sort_keys=False, width=120)
        for plural, crd in crds.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("crds"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (args.out / name).write_text(text)
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
