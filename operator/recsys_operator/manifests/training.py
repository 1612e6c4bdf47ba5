"""TrainingRuns a RecommenderSystem creates for itself (owned, so they go when it goes)."""

from __future__ import annotations

from typing import Literal

from recsys_operator.api import API_VERSION
from recsys_operator.api.training_run import KIND
from recsys_operator.manifests.common import Manifest, Owner

COMPONENT = "training"


def training_run(owner: Owner, name: str, run_type: Literal["Initial", "Incremental"]) -> Manifest:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": owner.metadata(COMPONENT, name),
        "spec": {"recommenderRef": {"name": owner.name}, "type": run_type, "promote": "Auto"},
    }


def initial_run_name(owner: Owner) -> str:
    return owner.child_name("initial")
