"""What the steps read, loaded lazily per process: each Triton step loads only its own share.

A model instance (Triton `initialize`) builds one `Resources` for the version directory in
its parameters and warms what its steps need, so a new version means new instances and
fresh caches; the in-process `Recommender` shares one across all steps.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt
import redis

from recsys_workloads.contracts.serving import ServingGraphConfig
from recsys_workloads.features.transform import FittedTransforms
from recsys_workloads.index.item_index import ItemIndex
from recsys_workloads.models import artifacts
from recsys_workloads.models.onnx_runner import OnnxModel
from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import SeenFilter, make_seen_filter
from recsys_workloads.serving.item_cache import ItemCache
from recsys_workloads.serving.user_lookup import UserProfiles

POPULAR_DEFAULT_SIZE = 1000
FAISS_THREADS = 1
Need = str  # one of the cached properties below


class Resources:
    def __init__(
        self,
        version_dir: Path,
        redis_url: str = "",
        config: ServingGraphConfig | None = None,
        client: redis.Redis | None = None,
    ) -> None:
        self.version_dir = Path(version_dir)
        self.redis_url = redis_url
        self.config = config or ServingGraphConfig()
        self._client = client
        self.seen_filter_config = self.config.seen_filter  # the layout the event service writes
        self._seen_filter: SeenFilter | None = None
        self._popular_default: list[tuple[str, float]] = []

    @cached_property
    def transforms(self) -> FittedTransforms:
        return FittedTransforms.load(self.version_dir / artifacts.TRANSFORMS_DIR)

    @cached_property
    def items(self) -> ItemCache:
        return ItemCache.load(self.version_dir)

    @cached_property
    def profiles(self) -> UserProfiles:
        return UserProfiles.load(self.version_dir)

    @cached_property
    def index(self) -> ItemIndex:
        # One query per call: OpenMP teams only add threads that spin after each search and
        # steal the core the next step (another stub process) needs.
        faiss.omp_set_num_threads(FAISS_THREADS)
        loaded = ItemIndex.load(self.version_dir / artifacts.INDEX_DIR)
        return loaded.searching(nprobe=self.config.nprobe, ef_search=self.config.ef_search)

    @cached_property
    def query_model(self) -> OnnxModel:
        return OnnxModel(self.version_dir / artifacts.EXPORT_DIR / artifacts.QUERY_TOWER_ONNX)

    @cached_property
    def ranker(self) -> OnnxModel:
        return OnnxModel(self.version_dir / artifacts.EXPORT_DIR / artifacts.DLRM_ONNX)

    @property
    def client(self) -> redis.Redis | None:
        """A fail-fast client, or None when no Valkey is configured."""
        if self._client is None and self.redis_url:
            self._client = connect(self.redis_url)
        return self._client

    @property
    def seen_filter(self) -> SeenFilter | None:
        """Backend detection needs Valkey: if it is down, None now (flagged) and retried next time."""
        if self._seen_filter is None and self.client is not None:
            try:
                self._seen_filter = make_seen_filter(self.client, self.seen_filter_config)
            except Exception:  # backend detection failed: the request is served unfiltered, flagged
                return None
        return self._seen_filter

    @cached_property
    def seen_positions(self) -> npt.NDArray[np.uint32]:
        """The catalog's bitmap seen-filter positions, hashed at load (sizing is config, no Valkey)."""
        return self.items.seen_positions(*self.seen_filter_config.sizing)

    @cached_property
    def popularity(self) -> Popularity | None:
        return Popularity(self.client) if self.client is not None else None

    def popular(self, n: int) -> list[str]:
        """Most popular item ids now; the last good list while Valkey is down."""
        if self.popularity is None:
            return []
        read = self.popularity.top_or_default(
            max(n, POPULAR_DEFAULT_SIZE), time.time(), None, self._popular_default
        )
        if not read.fallback:
            self._popular_default = read.items
        return [item for item, _ in read.items[:n]]

    def warm(self, needs: Iterable[Need]) -> None:
        """Load `needs` now (Triton `initialize`), so no request pays for loading."""
        for need in needs:
            getattr(self, need)
