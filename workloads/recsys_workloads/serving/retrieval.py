"""Step 6: FAISS retrieval of the top-K catalog rows for a query embedding."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from recsys_workloads.index.item_index import ItemIndex


def retrieve(
    index: ItemIndex, query: npt.ArrayLike, k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Best-first catalog rows and similarity scores of one query (missing rows dropped)."""
    scores, rows = index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
    keep = rows[0] >= 0
    return rows[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)
