"""The evaluation table the pipeline writes: one row per method and user segment.

Its JSON shape, as readers parse it, is `contracts.evaluation`.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np

from recsys_workloads.contracts.evaluation import REPORT_JSON as REPORT_JSON  # pipelines import it here
from recsys_workloads.evaluation.metrics import ndcg_at_k, recall_at_k
from recsys_workloads.evaluation.retrieval import Ranked, RetrievalTask, segments

REPORT_MD: Final = "report.md"
REPORT_PNG: Final = "report.png"


def retrieval_table(
    task: RetrievalTask, rankings: Mapping[str, Ranked], ks: tuple[int, ...] = (10, 100)
) -> list[dict[str, Any]]:
    """One row per (segment, method): user segments, then the new-items segment (`segments`)."""
    rows: list[dict[str, Any]] = []
    for name, segment in segments(task).items():
        mask, relevant = segment.mask, segment.relevant
        for method, ranked in rankings.items():
            row: dict[str, Any] = {"method": method, "segment": name, "queries": int(mask.sum())}
            for k in ks:
                row[f"recall@{k}"] = recall_at_k(ranked[mask], relevant, k) if mask.any() else float("nan")
                row[f"ndcg@{k}"] = ndcg_at_k(ranked[mask], relevant, k) if mask.any() else float("nan")
            rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(directory: Path, retrieval: list[dict[str, Any]], ranking: Mapping[str, float]) -> Path:
    """report.json (machine-readable), report.md (table), report.png when matplotlib exists."""
    directory.mkdir(parents=True, exist_ok=True)
    content = {"retrieval": retrieval, "ranking": dict(ranking)}
    (directory / REPORT_JSON).write_text(json.dumps(content, indent=1, default=float) + "\n")
    text = "# Evaluation on held-out days\n\n## Retrieval\n\n" + markdown(retrieval)
    text += "\n## Ranking (DLRM)\n\n" + markdown([{k: float(v) for k, v in ranking.items()}])
    (directory / REPORT_MD).write_text(text)
    if importlib.util.find_spec("matplotlib") is not None:
        _plot(directory / REPORT_PNG, retrieval)
    return directory


def _plot(path: Path, rows: list[dict[str, Any]]) -> None:  # pragma: no cover - optional dependency
    import matplotlib  # type: ignore[import-not-found,unused-ignore]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    methods = list(dict.fromkeys(r["method"] for r in rows))
    segments = list(dict.fromkeys(r["segment"] for r in rows))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, method in enumerate(methods):
        values = [
            next(r["recall@100"] for r in rows if r["method"] == method and r["segment"] == s)
            for s in segments
        ]
        ax.bar(np.arange(len(segments)) + i * width, values, width, label=method)
    ax.set_xticks(np.arange(len(segments)) + 0.4 - width / 2, segments)
    ax.set_ylabel("recall@100")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
