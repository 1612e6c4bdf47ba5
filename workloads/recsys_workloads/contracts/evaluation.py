"""report.json as readers see it (the demo page's chart), apart from the code that computes it.

`evaluation.report` writes the file; it imports the training stack, which the API must not
load just to read a few kB of JSON.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

REPORT_JSON: Final = "report.json"
ROW_KEYS: Final = ("method", "segment", "queries")
BASELINE: Final = "popularity"
ORACLE_PREFIX: Final = "oracle"
Role = Literal["baseline", "model", "oracle"]
_ROLE_ORDER: Final[dict[str, int]] = {"baseline": 0, "model": 1, "oracle": 2}
# Ranking metrics charted beside retrieval (0..1, higher is better; logloss is neither).
RANKING_BARS: Final = {"auc": "two_tower+dlrm", "auc_final": "final score"}


def _number(value: Any) -> Any:
    """NaN (a segment without queries) is JSON-unsafe: None."""
    return None if isinstance(value, float) and math.isnan(value) else value


class RetrievalRow(BaseModel):
    """One retrieval row of report.json; its metric columns (recall@k, ndcg@k) gathered in `metrics`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str
    segment: str
    queries: int
    metrics: dict[str, float | None] = Field(description="recall@k, ndcg@k; None where the segment is empty")

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, raw: Any) -> Any:
        """report.json rows are flat (`retrieval_table`): every column but ROW_KEYS is a metric."""
        if isinstance(raw, dict) and "metrics" not in raw:
            metrics = {k: _number(v) for k, v in raw.items() if k not in ROW_KEYS}
            return {**{k: raw[k] for k in ROW_KEYS if k in raw}, "metrics": metrics}
        return raw


class EvaluationReport(BaseModel):
    """report.json as `write_report` writes it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    retrieval: list[RetrievalRow]
    ranking: dict[str, float | None]

    @model_validator(mode="before")
    @classmethod
    def _nan(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("ranking"), dict):
            return {**raw, "ranking": {k: _number(v) for k, v in raw["ranking"].items()}}
        return raw

    @classmethod
    def read(cls, path: Path) -> EvaluationReport:
        """Parse report.json (NaN allowed, as json.dumps writes it); raises OSError or ValueError."""
        return cls.model_validate(json.loads(path.read_text()))


class ChartBar(BaseModel):
    method: str
    role: Role = Field(description="baseline (popularity), model, or oracle (the ceiling)")
    value: float | None


class ChartGroup(BaseModel):
    metric: str
    bars: list[ChartBar]


def role(method: str) -> Role:
    if method == BASELINE:
        return "baseline"
    return "oracle" if method.startswith(ORACLE_PREFIX) else "model"


def chart(report: EvaluationReport, segment: str = "all") -> list[ChartGroup]:
    """Grouped bars: per retrieval metric of `segment`, every method (baseline, models, oracles in
    that order); then the ranker's AUC (the report has no baseline AUC). What the demo page draws."""
    rows = sorted(
        (r for r in report.retrieval if r.segment == segment), key=lambda r: _ROLE_ORDER[role(r.method)]
    )
    metrics = list(dict.fromkeys(m for r in rows for m in r.metrics))
    groups = [
        ChartGroup(
            metric=m,
            bars=[ChartBar(method=r.method, role=role(r.method), value=r.metrics.get(m)) for r in rows],
        )
        for m in metrics
    ]
    auc = [
        ChartBar(method=label, role="model", value=report.ranking[key])
        for key, label in RANKING_BARS.items()
        if key in report.ranking
    ]
    if auc:
        groups.append(ChartGroup(metric="auc", bars=auc))
    return groups
