"""Train/serve parity: the query features a model trained on are the ones serving builds online.

A generated shop dated so that its history ends today. Every interaction before the last day
is posted through the real event service into the real redis-server; then, for rows of the
last day (registered users, anonymous sessions, users without clicks), serving's steps 1-4
(context preprocessing, user lookup, user and context transforms) run against that Valkey
and the version's published profiles, and must equal training's `examples()` for the same
rows, feature by feature.

Not covered here: expiry (Valkey's TTL is wall-clock; `tests/unit/models/test_history.py`
checks training's rule) and same-day clicks (training snapshots history at the start of the
day, serving sees clicks of the day as they come: the known, documented gap).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from recsys_workloads.contracts.events import EventLimits, EventServiceConfig
from recsys_workloads.contracts.models import ModelsConfig
from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.data import schema as s
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import ingest, open_interactions
from recsys_workloads.events.client import EventClient, new_event_id
from recsys_workloads.events.local_server import ThreadedServer
from recsys_workloads.features import transform as ft
from recsys_workloads.features.fit import examples
from recsys_workloads.models.pipeline import Shop, fit_step
from recsys_workloads.serving.graph import encode, run_steps, texts
from recsys_workloads.serving.resources import Resources

DAYS = 4
WINDOW_DAYS = 30  # longer than the history: nothing expires on either side
QUERY_STEPS = ("context_preprocessor", "user_lookup", "user_transform", "context_transform")


def post_history(client: EventClient, dataset: Path, before_day: int) -> int:
    table = open_interactions(dataset).to_table()
    table = table.filter(pc.and_(pc.less(table[s.DAY], before_day), table[s.CLICKED])).sort_by(s.TIMESTAMP)
    rows = table.select([s.USER_ID, s.ANONYMOUS_ID, s.ITEM_ID, s.EVENT_TYPE, s.DEVICE_TYPE, s.TIMESTAMP])
    events = [
        {
            "event_id": new_event_id(),
            "user_id": r[s.USER_ID],
            "anonymous_id": None if r[s.USER_ID] is not None else r[s.ANONYMOUS_ID],
            "item_id": r[s.ITEM_ID],
            "event_type": r[s.EVENT_TYPE],
            "device": r[s.DEVICE_TYPE],
            "timestamp": r[s.TIMESTAMP],
        }
        for r in rows.to_pylist()
    ]
    for start in range(0, len(events), 1_000):
        answer = client.post_events({"events": events[start : start + 1_000]})
        assert answer.status == 200, answer.body
    return len(events)


def test_serving_builds_the_query_features_training_used(
    tmp_path: Path,
    redis_url: str,
    serve: Callable[[EventServiceConfig], tuple[ThreadedServer, EventClient]],
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    generate(
        GeneratorConfig(
            users=60,
            interactions=2_500,
            days=DAYS,
            images=False,
            start_date=today - dt.timedelta(days=DAYS - 1),
        ),
        tmp_path / "raw",
    )
    dataset = tmp_path / "canonical"
    ingest(tmp_path / "raw", dataset)
    shop = Shop.load(dataset)
    last = shop.days[-1]
    version = tmp_path / "version"
    fit_step(shop, version, ModelsConfig(), shop.days[:-1], history_memory_days=WINDOW_DAYS)

    config = EventServiceConfig(
        redis_url=redis_url,
        catalog=dataset,
        log_dir=tmp_path / "events",
        writer_id="parity",
        limits=EventLimits(max_age_s=(DAYS + 1) * s.SECONDS_PER_DAY),
        seen_filter=SeenFilterConfig(window_days=WINDOW_DAYS),
    )
    _, client = serve(config)
    assert post_history(client, dataset, before_day=last) > 500

    res = Resources(version, redis_url)
    t = res.transforms
    day_rows = shop.interactions.select(shop.interactions.day == last)
    trained = examples(t, shop.catalog, shop.users, shop.interactions, day_rows, [last]).query
    visitors = day_rows.visitor.tolist()
    rng = np.random.default_rng(0)
    anonymous = [i for i, v in enumerate(visitors) if str(v).startswith("anon-")]
    registered = [i for i, v in enumerate(visitors) if not str(v).startswith("anon-")]
    picked = [
        *rng.choice(registered, 30, replace=False).tolist(),
        *rng.choice(anonymous, 10, replace=False).tolist(),
    ]
    assert anonymous and registered

    with_history = 0
    for i in picked:
        served = run_steps(
            QUERY_STEPS,
            res,
            {
                "USER_ID": encode([str(visitors[i])]),
                "DEVICE": encode([day_rows.device[i] or ""]),
                "TIMESTAMP": np.array([day_rows.timestamp[i]], dtype=np.int64),
            },
        )
        for name in ft.QUERY_FEATURES:
            np.testing.assert_allclose(
                np.asarray(served[name]).reshape(-1),
                np.asarray(trained[name][i]).reshape(-1),
                rtol=0,
                atol=1e-6,
                err_msg=f"{name} of visitor {visitors[i]} differs between training and serving",
            )
        with_history += any(texts(served["RECENT_ITEM_IDS"]))
    assert with_history >= len(picked) // 2  # the comparison is about real histories, not empty ones
