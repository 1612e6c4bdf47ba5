"""The fitted transforms as data: one versioned artifact (JSON vocabularies + NPZ stats).

Training and Triton's transform steps call the same functions on the same artifact, so
train/serve parity holds by construction and is tested on the same rows. Pure NumPy:
this module is imported by the numpy<2 serving venv.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from recsys_workloads.features.vocabulary import ANONYMOUS_INDEX, RESERVED, Vocabulary
from recsys_workloads.vocab import DEVICE_TYPES

FORMAT_VERSION: Final = 1
TRANSFORMS_FILE: Final = "transforms.json"
STATS_FILE: Final = "stats.npz"
AGE_BOUNDARIES: Final = (18, 25, 35, 50, 65)
SECONDS_PER_HOUR: Final = 3_600
SECONDS_PER_DAY: Final = 86_400
EPOCH_WEEKDAY: Final = 3  # 1970-01-01 was a Thursday (Monday = 0)

# Feature names: the model input names, the NPZ keys of the item cache and the tensors of
# the serving steps. Never rename one without a new FORMAT_VERSION.
USER_ID: Final = "user_id"
GENDER: Final = "gender"
AGE_BUCKET: Final = "age_bucket"
AGE: Final = "age"
TOP_CATEGORY: Final = "top_category"
RECENT_ITEMS: Final = "recent_items"
HOUR_SIN: Final = "hour_sin"
HOUR_COS: Final = "hour_cos"
WEEKDAY_SIN: Final = "weekday_sin"
WEEKDAY_COS: Final = "weekday_cos"
DEVICE: Final = "device"
ITEM_ID: Final = "item_id"
CATEGORY_L1: Final = "category_l1"
CATEGORY_L2: Final = "category_l2"
ITEM_GENDER: Final = "item_gender"
PRICE: Final = "price"
TEXT_EMBEDDING: Final = "text_embedding"
IMAGE_EMBEDDING: Final = "image_embedding"

USER_FEATURES: Final = (USER_ID, GENDER, AGE_BUCKET, AGE, TOP_CATEGORY, RECENT_ITEMS)
CONTEXT_FEATURES: Final = (HOUR_SIN, HOUR_COS, WEEKDAY_SIN, WEEKDAY_COS, DEVICE)
ITEM_FEATURES: Final = (ITEM_ID, CATEGORY_L1, CATEGORY_L2, ITEM_GENDER, PRICE)
CONTENT_FEATURES: Final = (TEXT_EMBEDDING, IMAGE_EMBEDDING)
QUERY_FEATURES: Final = USER_FEATURES + CONTEXT_FEATURES
CANDIDATE_FEATURES: Final = ITEM_FEATURES + CONTENT_FEATURES
CATEGORICAL: Final = (
    USER_ID,
    GENDER,
    AGE_BUCKET,
    TOP_CATEGORY,
    DEVICE,
    ITEM_ID,
    CATEGORY_L1,
    CATEGORY_L2,
    ITEM_GENDER,
)
VOCABULARY_OF: Final[Mapping[str, str]] = {
    USER_ID: USER_ID,
    GENDER: GENDER,
    TOP_CATEGORY: CATEGORY_L1,
    DEVICE: DEVICE,
    ITEM_ID: ITEM_ID,
    RECENT_ITEMS: ITEM_ID,
    CATEGORY_L1: CATEGORY_L1,
    CATEGORY_L2: CATEGORY_L2,
    ITEM_GENDER: ITEM_GENDER,
}
"""Which vocabulary encodes a categorical feature (top category shares category_l1's)."""

Features = dict[str, npt.NDArray[np.generic]]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class FittedTransforms:
    vocabularies: Mapping[str, Vocabulary]
    age_mean: float
    age_std: float
    log_price_mean: float
    log_price_std: float
    recent_items: int = 5
    history_memory_s: int | None = None  # online history lifetime trained with (None: forever)

    @property
    def version(self) -> str:
        """Content hash: the same fit gives the same version, any change a new one."""
        return "tf-" + hashlib.sha256(self._json().encode()).hexdigest()[:12]

    def cardinality(self, feature: str) -> int:
        """Embedding rows a categorical feature needs."""
        if feature == AGE_BUCKET:
            return len(AGE_BOUNDARIES) + 1 + RESERVED
        return self.vocabularies[VOCABULARY_OF[feature]].size

    def _json(self) -> str:
        content: dict[str, object] = {
            "format_version": FORMAT_VERSION,
            "recent_items": self.recent_items,
            "age_boundaries": list(AGE_BOUNDARIES),
            "vocabularies": {k: list(v.values) for k, v in sorted(self.vocabularies.items())},
            "stats": [self.age_mean, self.age_std, self.log_price_mean, self.log_price_std],
        }
        if self.history_memory_s is not None:  # absent in older versions: their hashes still hold
            content["history_memory_s"] = self.history_memory_s
        return json.dumps(content, sort_keys=True)

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        content = json.loads(self._json())
        content["version"] = self.version
        (directory / TRANSFORMS_FILE).write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")
        np.savez(
            directory / STATS_FILE,
            age=np.array([self.age_mean, self.age_std]),
            log_price=np.array([self.log_price_mean, self.log_price_std]),
        )
        return directory

    @classmethod
    def load(cls, directory: Path) -> FittedTransforms:
        content = json.loads((directory / TRANSFORMS_FILE).read_text())
        if content.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{directory}: transforms format {content.get('format_version')} is not supported"
            )
        with np.load(directory / STATS_FILE) as stats:
            age, log_price = stats["age"].tolist(), stats["log_price"].tolist()
        loaded = cls(
            vocabularies={k: Vocabulary(tuple(v)) for k, v in content["vocabularies"].items()},
            age_mean=age[0],
            age_std=age[1],
            log_price_mean=log_price[0],
            log_price_std=log_price[1],
            recent_items=int(content["recent_items"]),
            history_memory_s=content.get("history_memory_s"),
        )
        if loaded.version != content["version"]:
            raise ValueError(f"{directory}: content does not match version {content['version']}")
        return loaded


def default_device_vocabulary() -> Vocabulary:
    return Vocabulary(DEVICE_TYPES)


def age_buckets(ages: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Buckets split at AGE_BOUNDARIES; missing (NaN or <= 0) → ANONYMOUS_INDEX."""
    a = np.asarray(ages, dtype=np.float64)
    buckets = np.digitize(np.nan_to_num(a, nan=0.0), AGE_BOUNDARIES).astype(np.int64) + RESERVED
    return np.where(np.isnan(a) | (a <= 0), ANONYMOUS_INDEX, buckets)


def _standardize(values: npt.NDArray[np.float64], mean: float, std: float) -> FloatArray:
    out = (values - mean) / (std if std > 0 else 1.0)
    return np.nan_to_num(out, nan=0.0).astype(np.float32)


def transform_users(
    t: FittedTransforms,
    user_ids: Sequence[str | None],
    ages: npt.ArrayLike,
    genders: Sequence[str | None],
    top_categories: Sequence[str | None],
    recent_items: Sequence[Sequence[str]],
) -> Features:
    """Registered, new and anonymous (user id None) visitors; recent items most recent first."""
    a = np.asarray(ages, dtype=np.float64)
    a = np.where(a > 0, a, np.nan)
    n, width = len(user_ids), t.recent_items
    item_vocab = t.vocabularies[ITEM_ID]
    recent = np.full((n, width), ANONYMOUS_INDEX, dtype=np.int64)
    for row, items in enumerate(recent_items):
        kept = list(items)[:width]
        if kept:
            recent[row, : len(kept)] = item_vocab.lookup(kept)
    return {
        USER_ID: t.vocabularies[USER_ID].lookup(user_ids),
        GENDER: t.vocabularies[GENDER].lookup(genders),
        AGE_BUCKET: age_buckets(a),
        AGE: _standardize(a, t.age_mean, t.age_std),
        TOP_CATEGORY: t.vocabularies[CATEGORY_L1].lookup(top_categories),
        RECENT_ITEMS: recent,
    }


def transform_context(
    t: FittedTransforms, timestamps: npt.ArrayLike, devices: Sequence[str | None]
) -> Features:
    """Hour and weekday (UTC) as points on a circle, so 23:00 is next to 00:00."""
    ts = np.asarray(timestamps, dtype=np.int64)
    hour = 2 * np.pi * ((ts // SECONDS_PER_HOUR) % 24) / 24.0
    weekday = 2 * np.pi * ((ts // SECONDS_PER_DAY + EPOCH_WEEKDAY) % 7) / 7.0
    return {
        HOUR_SIN: np.sin(hour).astype(np.float32),
        HOUR_COS: np.cos(hour).astype(np.float32),
        WEEKDAY_SIN: np.sin(weekday).astype(np.float32),
        WEEKDAY_COS: np.cos(weekday).astype(np.float32),
        # "unknown" (UNKNOWN_DEVICE) and new platforms are not in the vocabulary → OOV bucket.
        DEVICE: t.vocabularies[DEVICE].lookup(devices),
    }


def transform_items(
    t: FittedTransforms,
    item_ids: Sequence[str | None],
    category_l1: Sequence[str | None],
    category_l2: Sequence[str | None],
    item_genders: Sequence[str | None],
    prices: npt.ArrayLike,
) -> Features:
    price = np.log1p(np.maximum(np.asarray(prices, dtype=np.float64), 0.0))
    return {
        ITEM_ID: t.vocabularies[ITEM_ID].lookup(item_ids),
        CATEGORY_L1: t.vocabularies[CATEGORY_L1].lookup(category_l1),
        CATEGORY_L2: t.vocabularies[CATEGORY_L2].lookup(category_l2),
        ITEM_GENDER: t.vocabularies[ITEM_GENDER].lookup(item_genders),
        PRICE: _standardize(price, t.log_price_mean, t.log_price_std),
    }


def take(features: Mapping[str, npt.NDArray[np.generic]], rows: npt.ArrayLike) -> Features:
    """Row selection over every feature (gathering item rows for candidates, unrolling users)."""
    index = np.asarray(rows)
    return {k: v[index] for k, v in features.items()}


def concat(parts: Sequence[Mapping[str, npt.NDArray[np.generic]]]) -> Features:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
