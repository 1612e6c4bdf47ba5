"""Pipelines by name: what a TrainingRun or `recsys local` submits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recsys_workloads.pipelines.data import data_pipeline
from recsys_workloads.pipelines.incremental import incremental_pipeline
from recsys_workloads.pipelines.initial import initial_pipeline

PIPELINES: dict[str, Callable[..., Any]] = {
    "data": data_pipeline,
    "initial": initial_pipeline,
    "incremental": incremental_pipeline,
}


def pipeline_by_name(name: str) -> Callable[..., Any]:
    try:
        return PIPELINES[name]
    except KeyError:
        raise KeyError(f"unknown pipeline {name!r}; known: {sorted(PIPELINES)}") from None
