"""The Grafana dashboard's queries as Prometheus sees them, and what they need from a scrape.

Every panel target's `expr`, with Grafana's interval variables replaced as Grafana does before
sending it, parsed by promql-parser (Prometheus' own grammar, Rust bindings). From the syntax
tree: each selected metric name with the label names its matchers use, and each `by (...)` /
`on (...)` label with the metrics beneath it, so a test can check them against real series.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import promql_parser as pp

DASHBOARD = Path("deploy") / "monitoring" / "grafana-dashboard.json"
# What Grafana substitutes before a query leaves it (a range Prometheus accepts stands in).
GRAFANA_INTERVALS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
NAME = "__name__"
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class Query:
    panel: str
    expr: str


@dataclass
class Needs:
    """What one query reads: metric -> labels its matchers name; (label, metrics it must be on)."""

    metrics: dict[str, set[str]] = field(default_factory=dict)
    grouping: list[tuple[str, frozenset[str]]] = field(default_factory=list)


def queries(root: Path) -> list[Query]:
    board = json.loads((root / DASHBOARD).read_text())
    found = []
    for panel in _panels(board["panels"]):
        for target in panel.get("targets") or []:
            found.append(Query(panel["title"], str(target["expr"])))
    return found


def _panels(panels: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])  # a collapsed row holds its panels


def as_sent(expr: str) -> str:
    for variable, value in GRAFANA_INTERVALS.items():
        expr = expr.replace(variable, value)
    return expr


def parse(expr: str) -> pp.Expr:
    """Raises ValueError with the parser's message when the query is not valid PromQL."""
    return pp.parse(as_sent(expr))


def needs(expr: str) -> Needs:
    found = Needs()
    _walk(parse(expr), found)
    return found


def _walk(node: Any, found: Needs) -> frozenset[str]:
    """Records what `node` needs; returns the metric names selected beneath it."""
    if isinstance(node, pp.VectorSelector):
        name = str(node.name)
        labels = {m.name for m in node.matchers.matchers if m.name != NAME}
        found.metrics.setdefault(name, set()).update(labels)
        return frozenset({name})
    if isinstance(node, pp.MatrixSelector):
        return _walk(node.vector_selector, found)
    if isinstance(node, pp.Call):
        return frozenset().union(*(_walk(arg, found) for arg in node.args))
    if isinstance(node, pp.AggregateExpr):
        below = _walk(node.expr, found)
        if node.param is not None:
            _walk(node.param, found)
        for label in node.modifier.labels if node.modifier is not None else []:
            found.grouping.append((str(label), below))
        return below
    if isinstance(node, pp.BinaryExpr):
        below = _walk(node.lhs, found) | _walk(node.rhs, found)
        matching = node.modifier.matching if node.modifier is not None else None
        for label in matching.labels if matching is not None else []:
            found.grouping.append((str(label), below))
        return below
    if isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
        return _walk(node.expr, found)
    return frozenset()  # number and string literals


def exposed(text: str, into: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Sample name -> label names, from Prometheus' text format as Prometheus stores it.

    Not prometheus_client's parser: it renames a counter's samples to `<name>_total`, but
    Prometheus keeps the exposed name (Triton's counters have no suffix).
    """
    series = {} if into is None else into
    for line in text.splitlines():
        found = SAMPLE.match(line)
        if found is not None:
            series.setdefault(found[1], set()).update(LABEL.findall(found[2] or ""))
    return series


def missing(query_needs: Needs, series: Mapping[str, set[str]]) -> list[str]:
    """What `series` (sample name -> label names seen on it, from real scrapes) lacks."""
    problems = []
    for name, labels in sorted(query_needs.metrics.items()):
        if name not in series:
            problems.append(f"no series {name}")
        elif labels - series[name]:
            problems.append(f"{name} has no label {sorted(labels - series[name])}")
    for label, metrics in query_needs.grouping:
        if not any(label in series.get(name, set()) for name in metrics):
            problems.append(f"by/on label {label!r} is on none of {sorted(metrics)}")
    return problems
