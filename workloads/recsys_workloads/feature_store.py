"""The Feast feature repository: config rendering, definitions, feature tables, apply and materialise.

Feast serves training (point-in-time joins from the offline store) and user features
online. Per-request item lookups do not go through Feast (60 µs per entity measured):
serving indexes an in-memory NumPy cache (docs/benchmarks.md).

- `render_feature_store_yaml(config)`: `feature_store.yaml` for local mode (file offline
  store, Redis or SQLite online store) or the cloud (Athena + S3 offline, Valkey online
  over TLS). Secrets never land in the file: the password is `${ENV_VAR}`, which Feast
  expands when it loads the file. Valkey is `type: redis` with a `host:port,db=0,...`
  connection string (Feast mis-parses `redis://` URLs).
- `definitions(config)`: entities and feature views, shared by `feature_repo/features.py`
  (the `feast apply` CLI) and `apply()` (driven from code after training).
- `build_feature_tables(dataset, out, as_of)`: the parquet files the file sources read.

Feast is imported inside functions: importing it costs seconds and it is absent from the
serving and operator images.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import Field

from recsys_workloads.contracts.spec import SpecModel

if TYPE_CHECKING:
    from feast import FeatureStore

USER_ENTITY = "user"
ITEM_ENTITY = "item"
USER_PROFILE = "user_profile"
USER_RECENT_ITEMS = "user_recent_items"
ITEM_ATTRIBUTES = "item_attributes"
ITEM_EMBEDDINGS = "item_embeddings"
ITEM_POPULARITY = "item_popularity"
FEATURE_VIEWS = (USER_PROFILE, USER_RECENT_ITEMS, ITEM_ATTRIBUTES, ITEM_EMBEDDINGS, ITEM_POPULARITY)
EVENT_TIMESTAMP = "event_timestamp"
FEATURE_STORE_FILE = "feature_store.yaml"


# --- configuration ------------------------------------------------------------------------
class RedisOnlineStore(SpecModel):
    """Valkey/Redis online store (Feast `type: redis`); TLS and password for ElastiCache."""

    type: Literal["redis"] = "redis"
    host: str = "127.0.0.1"
    port: int = Field(6379, ge=1, le=65535)
    db: int = Field(0, ge=0)
    ssl: bool = False
    password_env: str | None = Field(
        None, pattern=r"^[A-Z_][A-Z0-9_]*$", description="env var holding the password (from a Secret)"
    )
    key_ttl_seconds: int | None = Field(None, ge=1)

    def connection_string(self) -> str:
        parts = [f"{self.host}:{self.port}", f"db={self.db}"]
        if self.ssl:
            parts.append("ssl=true")
        if self.password_env:
            parts.append("password=${" + self.password_env + "}")
        return ",".join(parts)


class SqliteOnlineStore(SpecModel):
    type: Literal["sqlite"] = "sqlite"
    path: str = "data/online.db"


class FileOfflineStore(SpecModel):
    type: Literal["file"] = "file"


class AthenaOfflineStore(SpecModel):
    """Feature tables as Athena tables over S3 (one table per feature view, same name)."""

    type: Literal["athena"] = "athena"
    region: str
    database: str
    s3_staging_location: str = Field(pattern=r"^s3://")
    data_source: str = "AwsDataCatalog"
    workgroup: str = "primary"


class FeatureStoreConfig(SpecModel):
    """One Feast project: registry, stores and the shape of the features."""

    project: str = Field("recsys", pattern=r"^[a-z][a-z0-9_]*$")
    provider: Literal["local", "aws"] = "local"
    registry: str = Field(
        "data/registry.db", description="path (relative to the repo) or s3://.../registry.db"
    )
    online_store: Annotated[RedisOnlineStore | SqliteOnlineStore, Field(discriminator="type")] = Field(
        default_factory=RedisOnlineStore
    )
    offline_store: Annotated[FileOfflineStore | AthenaOfflineStore, Field(discriminator="type")] = Field(
        default_factory=FileOfflineStore
    )
    feature_data: str = Field("data/features", description="folder of the file sources' parquet tables")
    embedding_dim: int = Field(64, ge=1, le=4096, description="length of item multimodal embeddings")
    recent_items: int = Field(20, ge=1, le=1000, description="recent items per user feature")
    ttl_days: int = Field(30, ge=1, description="online features older than this are not served")


def local_config(
    host: str, port: int, feature_data: Path, registry: Path, **changes: Any
) -> FeatureStoreConfig:
    """Local mode: file offline store, the local redis-server online."""
    return FeatureStoreConfig(
        online_store=RedisOnlineStore(host=host, port=port),
        feature_data=str(feature_data),
        registry=str(registry),
        **changes,
    )


def cloud_config(
    valkey_host: str,
    bucket: str,
    region: str,
    database: str,
    password_env: str = "VALKEY_PASSWORD",
    **changes: Any,
) -> FeatureStoreConfig:
    """AWS: registry in S3, Athena offline store, ElastiCache for Valkey online over TLS."""
    return FeatureStoreConfig(
        provider="aws",
        registry=f"s3://{bucket}/feast/registry.db",
        online_store=RedisOnlineStore(host=valkey_host, port=6379, ssl=True, password_env=password_env),
        offline_store=AthenaOfflineStore(
            region=region, database=database, s3_staging_location=f"s3://{bucket}/athena-results/"
        ),
        feature_data=f"s3://{bucket}/features",
        **changes,
    )


def render_feature_store_yaml(config: FeatureStoreConfig) -> str:
    """`feature_store.yaml` for `config`; `${VAR}` placeholders are expanded by Feast at load."""
    online: dict[str, Any]
    if isinstance(config.online_store, RedisOnlineStore):
        online = {"type": "redis", "connection_string": config.online_store.connection_string()}
        if config.online_store.key_ttl_seconds:
            online["key_ttl_seconds"] = config.online_store.key_ttl_seconds
    else:
        online = {"type": "sqlite", "path": config.online_store.path}
    offline: dict[str, Any] = {"type": config.offline_store.type}
    if isinstance(config.offline_store, AthenaOfflineStore):
        offline.update(config.offline_store.model_dump(exclude={"type"}))
    document = {
        "project": config.project,
        "provider": config.provider,
        "registry": config.registry,
        "online_store": online,
        "offline_store": offline,
        "entity_key_serialization_version": 3,
    }
    header = "# Rendered by recsys_workloads.feature_store.render_feature_store_yaml; do not edit.\n"
    return header + yaml.safe_dump(document, sort_keys=False)


# --- definitions --------------------------------------------------------------------------
def definitions(config: FeatureStoreConfig) -> list[Any]:
    """Entities and feature views (Feast objects) for `config`."""
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Array, Float32, Float64, Int64, String

    user = Entity(
        name=USER_ENTITY, join_keys=["user_id"], value_type=ValueType.STRING, description="signed-in user"
    )
    item = Entity(
        name=ITEM_ENTITY, join_keys=["item_id"], value_type=ValueType.STRING, description="catalog item"
    )

    def source(name: str) -> Any:
        if isinstance(config.offline_store, AthenaOfflineStore):
            from feast.infra.offline_stores.contrib.athena_offline_store.athena_source import AthenaSource

            return AthenaSource(
                name=name,
                table=name,
                database=config.offline_store.database,
                data_source=config.offline_store.data_source,
                timestamp_field=EVENT_TIMESTAMP,
            )
        return FileSource(
            name=name, path=f"{config.feature_data}/{name}.parquet", timestamp_field=EVENT_TIMESTAMP
        )

    ttl = dt.timedelta(days=config.ttl_days)

    def view(name: str, entity: Any, fields: list[tuple[str, Any]], description: str) -> Any:
        return FeatureView(
            name=name,
            entities=[entity],
            ttl=ttl,
            schema=[Field(name=n, dtype=t) for n, t in fields],
            source=source(name),
            online=True,
            description=description,
        )

    return [
        user,
        item,
        view(
            USER_PROFILE,
            user,
            [("age", Int64), ("gender", String), ("top_category", String)],
            "who the user is",
        ),
        view(USER_RECENT_ITEMS, user, [("recent_items", Array(String))], "last items, newest first"),
        view(
            ITEM_ATTRIBUTES,
            item,
            [("category_l1", String), ("category_l2", String), ("price", Float64), ("item_gender", String)],
            "catalog attributes",
        ),
        view(
            ITEM_EMBEDDINGS,
            item,
            [("embedding", Array(Float32))],
            f"multimodal (text + image) embedding, {config.embedding_dim} floats",
        ),
        view(
            ITEM_POPULARITY,
            item,
            [("popularity", Float64), ("rank_global", Int64), ("rank_in_category", Int64)],
            "interactions in the training window, and ranks globally and within the item's category",
        ),
    ]


def config_from_env() -> FeatureStoreConfig:
    """What `feature_repo/features.py` uses under the plain `feast apply` CLI."""
    raw = os.environ.get("RECSYS_FEATURE_STORE_CONFIG")
    if raw:
        return FeatureStoreConfig.model_validate_json(raw)
    return FeatureStoreConfig(feature_data=os.environ.get("RECSYS_FEATURE_DATA", "data/features"))


# --- feature tables -----------------------------------------------------------------------
def build_feature_tables(
    dataset: Path,
    out: Path,
    as_of: dt.datetime,
    config: FeatureStoreConfig,
    embeddings: tuple[Sequence[str], npt.NDArray[np.float32]] | None = None,
) -> list[str]:
    """Write the file sources' parquet from a canonical dataset; returns the views written.

    Every row is stamped `as_of` (the end of the training data). Item embeddings are
    written only when given (ids, matrix of `embedding_dim` columns): they come from the
    embedding step, and this module does not invent them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from recsys_workloads.data import schema as s
    from recsys_workloads.data.ingest import open_interactions

    out.mkdir(parents=True, exist_ok=True)
    stamp = pa.scalar(as_of, type=pa.timestamp("us", tz="UTC"))
    items = pq.read_table(dataset / s.ITEMS_FILE)
    users = pq.read_table(dataset / s.USERS_FILE)
    events = open_interactions(dataset).to_table(
        columns=[s.USER_ID, s.ITEM_ID, s.TIMESTAMP],
        filter=pc.field(s.CLICKED) & pc.is_valid(pc.field(s.USER_ID)),
    )
    events = events.cast(
        pa.schema([(s.USER_ID, pa.string()), (s.ITEM_ID, pa.string()), (s.TIMESTAMP, pa.int64())])
    )
    category = dict(
        zip(items.column(s.ITEM_ID).to_pylist(), items.column(s.CATEGORY_L1).to_pylist(), strict=True)
    )

    def write(name: str, table: pa.Table) -> None:
        n = table.num_rows
        pq.write_table(table.append_column(EVENT_TIMESTAMP, pa.repeat(stamp, n)), out / f"{name}.parquet")

    from recsys_workloads.contracts.keys import RECENT_KEPT
    from recsys_workloads.features.history import user_history

    history = user_history(
        np.array(events.column(s.USER_ID).to_pylist(), dtype=object),
        np.array(events.column(s.ITEM_ID).to_pylist(), dtype=object),
        events.column(s.TIMESTAMP).to_numpy().astype(np.int64),
        category,
        config.recent_items,
        kept=max(config.recent_items, RECENT_KEPT),
    )  # the online definition (features.history); Feast's ttl_days ages it out
    top = history.top_category
    user_ids = users.column(s.USER_ID).to_pylist()
    write(
        USER_PROFILE,
        pa.table(
            {
                "user_id": pa.array(user_ids, pa.string()),
                "age": users.column(s.AGE).cast(pa.int64()),
                "gender": users.column(s.GENDER).cast(pa.string()),
                "top_category": pa.array([top.get(u) for u in user_ids], pa.string()),
            }
        ),
    )
    recent = history.recent_items
    write(
        USER_RECENT_ITEMS,
        pa.table(
            {
                "user_id": pa.array(list(recent), pa.string()),
                "recent_items": pa.array([list(v) for v in recent.values()], pa.list_(pa.string())),
            }
        ),
    )
    write(
        ITEM_ATTRIBUTES,
        items.select([s.ITEM_ID, s.CATEGORY_L1, s.CATEGORY_L2, s.PRICE, s.ITEM_GENDER]),
    )
    write(ITEM_POPULARITY, _popularity(items, events))
    written = [USER_PROFILE, USER_RECENT_ITEMS, ITEM_ATTRIBUTES, ITEM_POPULARITY]
    if embeddings is not None:
        ids, matrix = embeddings
        if matrix.shape != (len(ids), config.embedding_dim):
            raise ValueError(
                f"embeddings shape {matrix.shape}, expected ({len(ids)}, {config.embedding_dim})"
            )
        flat = pa.array(np.ascontiguousarray(matrix, np.float32).ravel())
        write(
            ITEM_EMBEDDINGS,
            pa.table(
                {
                    "item_id": pa.array(list(ids), pa.string()),
                    "embedding": pa.ListArray.from_arrays(
                        pa.array(np.arange(0, len(flat) + 1, config.embedding_dim, dtype=np.int32)), flat
                    ),
                }
            ),
        )
        written.append(ITEM_EMBEDDINGS)
    return written


def _popularity(items: Any, events: Any) -> Any:
    import pyarrow as pa

    from recsys_workloads.data import schema as s

    counts = events.group_by([s.ITEM_ID]).aggregate([(s.TIMESTAMP, "count")])
    count = dict(
        zip(
            counts.column(s.ITEM_ID).to_pylist(),
            counts.column(f"{s.TIMESTAMP}_count").to_pylist(),
            strict=True,
        )
    )
    ids = items.column(s.ITEM_ID).to_pylist()
    cats = items.column(s.CATEGORY_L1).to_pylist()
    pop = np.array([float(count.get(i, 0)) for i in ids])
    rank_global = _ranks(pop)
    rank_cat = np.zeros(len(ids), np.int64)
    cat_arr = np.array(cats, dtype=object)
    for cat in set(cats):
        rows = np.flatnonzero(cat_arr == cat)
        rank_cat[rows] = _ranks(pop[rows])
    return pa.table(
        {
            "item_id": pa.array(ids, pa.string()),
            "popularity": pa.array(pop),
            "rank_global": pa.array(rank_global),
            "rank_in_category": pa.array(rank_cat),
        }
    )


def _ranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """1 = most popular; ties keep catalog order."""
    ranks = np.empty(len(values), np.int64)
    ranks[np.argsort(-values, kind="stable")] = np.arange(1, len(values) + 1)
    return ranks


# --- apply / materialise ------------------------------------------------------------------
def write_repo_config(repo_dir: Path, config: FeatureStoreConfig) -> Path:
    repo_dir.mkdir(parents=True, exist_ok=True)
    path = repo_dir / FEATURE_STORE_FILE
    path.write_text(render_feature_store_yaml(config))
    return path


def open_store(repo_dir: Path) -> FeatureStore:
    from feast import FeatureStore

    return FeatureStore(repo_path=str(repo_dir))


def apply(repo_dir: Path, config: FeatureStoreConfig) -> FeatureStore:
    """Render `feature_store.yaml` into `repo_dir` and register the definitions (what `feast apply` does)."""
    write_repo_config(repo_dir, config)
    if not config.registry.startswith("s3://"):
        (repo_dir / config.registry).parent.mkdir(parents=True, exist_ok=True)
    store = open_store(repo_dir)
    store.apply(definitions(config))
    return store


def materialize(
    store: FeatureStore,
    end: dt.datetime,
    config: FeatureStoreConfig,
    views: Sequence[str] | None = None,
) -> None:
    """Load the offline tables into the online store for `[end - ttl, end]` (after training)."""
    start = end - dt.timedelta(days=config.ttl_days)
    store.materialize(start_date=start, end_date=end, feature_views=list(views) if views else None)


def online_features(
    store: FeatureStore, refs: Sequence[str], entity_rows: Sequence[Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """`get_online_features(...).to_dict()` (one call, many entities)."""
    response = store.get_online_features(features=list(refs), entity_rows=[dict(r) for r in entity_rows])
    result: dict[str, list[Any]] = response.to_dict()
    return result
