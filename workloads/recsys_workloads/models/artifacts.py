"""Layout of a model version on disk (what the export step and Triton's steps read).

<version>/
  manifest.json            versions, days, metrics, throughput
  transforms/              transforms.json + stats.npz (features.transform)
  items.npz                item cache: item ids + transformed item features + content embeddings
  users.npz                user profiles the ranker trained on (id, age, gender), read online
  item_embeddings.npy      candidate-tower vectors, row = catalog row
  index/                   items.faiss + index.json
  two_tower/               spec JSON + Keras weights (training side)
  dlrm/                    spec JSON + Keras weights (training side)
  export/                  query_tower.onnx, dlrm_ranking.onnx (or SavedModels)
  evaluation/              report.json, report.md (+ report.png)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

MANIFEST: Final = "manifest.json"
TRANSFORMS_DIR: Final = "transforms"
ITEMS_FILE: Final = "items.npz"
ITEM_IDS_KEY: Final = "item_ids"
USERS_FILE: Final = "users.npz"
ITEM_EMBEDDINGS_FILE: Final = "item_embeddings.npy"
INDEX_DIR: Final = "index"
TWO_TOWER_DIR: Final = "two_tower"
DLRM_DIR: Final = "dlrm"
EXPORT_DIR: Final = "export"
EVALUATION_DIR: Final = "evaluation"
QUERY_TOWER_ONNX: Final = "query_tower.onnx"
DLRM_ONNX: Final = "dlrm_ranking.onnx"


def save_items(
    path: Path, item_ids: npt.NDArray[np.object_], features: Mapping[str, npt.NDArray[np.generic]]
) -> Path:
    """Plain NPZ with a unicode id array: loads without pickle in the numpy<2 serving venv."""
    arrays: dict[str, Any] = {ITEM_IDS_KEY: np.asarray(item_ids, dtype=str), **features}
    np.savez(path, **arrays)
    return path


def load_items(path: Path) -> tuple[npt.NDArray[np.str_], dict[str, npt.NDArray[np.generic]]]:
    with np.load(path, allow_pickle=False) as data:
        features = {k: data[k] for k in data.files if k != ITEM_IDS_KEY}
        return data[ITEM_IDS_KEY], features


def save_users(
    path: Path,
    user_ids: npt.NDArray[np.object_],
    ages: npt.NDArray[np.float64],
    genders: npt.NDArray[np.object_],
) -> Path:
    """Profiles sorted by id (a binary search online, no dict of a million strings); '' = no gender."""
    ids = np.asarray(user_ids, dtype=str)
    order = np.argsort(ids, kind="stable")
    np.savez(
        path,
        user_id=ids[order],
        age=np.asarray(ages, dtype=np.float64)[order],
        gender=np.array(["" if g is None else str(g) for g in np.asarray(genders, dtype=object)[order]]),
    )
    return path


def load_users(path: Path) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.float64], npt.NDArray[np.str_]]:
    with np.load(path, allow_pickle=False) as data:
        return data["user_id"], data["age"], data["gender"]


def write_manifest(directory: Path, content: Mapping[str, Any]) -> None:
    (directory / MANIFEST).write_text(json.dumps(content, indent=1, sort_keys=True, default=float) + "\n")


def read_manifest(directory: Path) -> dict[str, Any]:
    return dict(json.loads((directory / MANIFEST).read_text()))
