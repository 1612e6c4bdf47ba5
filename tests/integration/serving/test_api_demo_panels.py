"""The demo page's two pictures on real servers: the experiment's live arms and the evaluation report.

No Triton (the model arm and the shadow fail over to popularity, which is how errors get
counted); a real redis-server, a real event service crediting clicks through the API's proxy,
and a report written by the pipeline's own writer.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.contracts.experiment import (
    CounterField,
    ResolvedArm,
    ResolvedExperiment,
    wilson_interval,
)
from recsys_workloads.contracts.serving import ENSEMBLE, POPULAR_ENSEMBLE
from recsys_workloads.data import schema as s
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import ingest
from recsys_workloads.evaluation.report import write_report
from recsys_workloads.events.app import create_app as create_events_app
from recsys_workloads.events.local_server import ThreadedServer
from recsys_workloads.models import artifacts
from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.serving.api.experiment import read_view

from .conftest import call, no_triton, serve

EXPERIMENT = ResolvedExperiment(
    name="demo-panels",
    arms=[
        ResolvedArm(name="model", version=3, weight=50, ensemble=ENSEMBLE),
        ResolvedArm(name="popular", version=None, weight=50, ensemble=POPULAR_ENSEMBLE),
        ResolvedArm(name="shadow", version=3, weight=0, shadow=True, ensemble=ENSEMBLE),
    ],
    attribution_window_s=600,
)
RETRIEVAL = [
    {"method": m, "segment": seg, "queries": q, "recall@10": r, "ndcg@10": r / 2}
    for seg, q in (("all", 40), ("new_items", 0))
    for m, r in (("oracle", 0.9), ("two_tower", 0.4), ("popularity", 0.1))
]
RANKING = {"auc": 0.71, "logloss": 0.52, "auc_final": 0.74}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("panels-shop")
    generate(GeneratorConfig(users=60, items=40, interactions=1_000, days=2, images=False), root / "raw")
    ingest(root / "raw", root / "canonical")
    return root / "canonical"


@pytest.fixture(scope="module")
def version(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A version folder named 3 holding only its evaluation report (NaN where a segment is empty)."""
    folder = tmp_path_factory.mktemp("panels-models") / "3"
    rows = [{**r, "recall@10": math.nan} if r["queries"] == 0 else r for r in RETRIEVAL]
    write_report(folder / artifacts.EVALUATION_DIR, rows, RANKING)
    return folder


@pytest.fixture(scope="module")
def api(
    shop: Path, version: Path, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    store = connect(redis_server.url)
    for arm in EXPERIMENT.arms:
        store.delete(keys.arm_counters_key(EXPERIMENT.name, arm.name))
    items = [str(i) for i in pq.read_table(shop / s.ITEMS_FILE).column(s.ITEM_ID).to_pylist()]
    Popularity(store).record_many([(i, None, float(50 - n)) for n, i in enumerate(items)], time.time())
    events = EventServiceConfig(
        redis_url=redis_server.url, catalog=shop, log_dir=tmp_path_factory.mktemp("panels-events")
    )
    with ThreadedServer(create_events_app(events)) as event_service:
        config = no_triton(
            redis_url=redis_server.url,
            catalog=shop,
            events_url=event_service.url,
            experiment=EXPERIMENT,
            report=version,
        )
        yield from serve(config)


def _get(url: str, path: str) -> Any:
    status, _, body = call(url, path)
    assert status == 200, body
    return body


def _arms(url: str) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in _get(url, "/v1/demo/experiment")["arms"]}


def test_the_arms_are_listed_in_spec_order_with_no_rate_before_traffic(api: str) -> None:
    body = _get(api, "/v1/demo/experiment")
    assert body["experiment"] == "demo-panels" and body["attribution_window_s"] == 600
    assert not body["store_skipped"]
    assert [(a["name"], a["version"], a["weight"], a["shadow"]) for a in body["arms"]] == [
        ("model", 3, 50, False),
        ("popular", None, 50, False),
        ("shadow", 3, 0, True),
    ]
    model = body["arms"][0]
    assert model["homepages"] == 0 and set(model["goals"]) == {"click", "addToCart", "purchase"}
    assert model["goals"]["click"] == {"homepages": 0, "events": 0, "rate": None, "low": None, "high": None}
    assert body["arms"][2]["goals"] == {} and body["arms"][2]["overlap"] is None  # never shown


def test_clicks_through_the_proxy_raise_the_arms_counts_and_rates(api: str) -> None:
    before = _arms(api)
    served: dict[str, list[dict[str, Any]]] = {"model": [], "popular": []}
    for user in range(1, 41):
        status, _, page = call(api, "/v1/recommendations", {"user_id": str(user), "num_items": 5})
        assert status == 200 and page["item_ids"], page
        served[page["arm"]].append({"user": str(user), **page})
    assert served["model"] and served["popular"]
    time.sleep(0.3)  # homepages reach Valkey within the log's 50 ms flush
    clicked = {arm: pages[::2] for arm, pages in served.items()}  # every other homepage
    n = 0
    for pages in clicked.values():
        for page in pages:
            for item in page["item_ids"][:2]:  # two clicks: two events, one homepage with a click
                n += 1
                event = {
                    "event_id": f"panels-{n}",
                    "user_id": page["user"],
                    "item_id": item,
                    "event_type": "View",
                    "recommendation_id": page["recommendation_id"],
                }
                status, _, answer = call(api, "/v1/demo/events", event)
                assert status == 200, answer

    after = _arms(api)
    for arm in ("model", "popular"):
        homepages = after[arm]["homepages"] - before[arm]["homepages"]
        assert homepages == len(served[arm])
        click = after[arm]["goals"]["click"]
        assert click["homepages"] == len(clicked[arm]) and click["events"] == 2 * len(clicked[arm])
        n_all, hits = after[arm]["homepages"], click["homepages"]
        assert click["rate"] == pytest.approx(hits / n_all)
        assert (click["low"], click["high"]) == pytest.approx(wilson_interval(hits, n_all))
        assert after[arm]["goals"]["purchase"]["homepages"] == 0
    # No Triton: the model arm and the shadow fail over to popularity and count as errors.
    assert after["model"]["errors"] == after["model"]["homepages"] and after["popular"]["errors"] == 0
    assert after["shadow"]["homepages"] - before["shadow"]["homepages"] == 40


def test_the_shadow_arms_overlap_is_the_mean_share_as_in_the_status(redis_server: RedisServer) -> None:
    store = connect(redis_server.url)
    experiment = EXPERIMENT.model_copy(update={"name": "demo-overlap"})
    key = keys.arm_counters_key("demo-overlap", "shadow")
    store.delete(key)
    store.hset(key, mapping={CounterField.HOMEPAGES: 4, CounterField.OVERLAP_MILLI: 3000})
    shadow = read_view(experiment, store).arms[2]
    assert (shadow.homepages, shadow.overlap) == (4, 0.75)


def test_unreachable_valkey_is_reported_as_skipped_not_as_zero() -> None:
    view = read_view(EXPERIMENT, connect("redis://127.0.0.1:1/0", timeout_s=0.2))
    assert view.store_skipped and [a.homepages for a in view.arms] == [0, 0, 0]


def test_the_report_comes_back_as_grouped_bars_baseline_models_oracle(api: str, version: Path) -> None:
    body = _get(api, "/v1/demo/report")
    assert body["available"] and body["version"] == 3
    assert (body["segment"], body["queries"]) == ("all", 40)
    groups = {g["metric"]: g["bars"] for g in body["groups"]}
    assert list(groups) == ["recall@10", "ndcg@10", "auc"]
    assert [(b["method"], b["role"], b["value"]) for b in groups["recall@10"]] == [
        ("popularity", "baseline", 0.1),
        ("two_tower", "model", 0.4),
        ("oracle", "oracle", 0.9),
    ]
    assert [(b["method"], b["value"]) for b in groups["auc"]] == [
        ("two_tower+dlrm", 0.71),
        ("final score", 0.74),
    ]
    on_disk = json.loads((version / artifacts.EVALUATION_DIR / "report.json").read_text())
    assert body["report"]["ranking"] == on_disk["ranking"]
    empty = next(r for r in body["report"]["retrieval"] if r["segment"] == "new_items")
    assert empty["metrics"]["recall@10"] is None  # NaN on disk: JSON has no NaN


def test_without_an_experiment_or_a_report_the_page_gets_empty_answers(shop: Path, tmp_path: Path) -> None:
    for url in serve(no_triton(catalog=shop, report=tmp_path / "missing")):
        assert _get(url, "/v1/demo/experiment") == {
            "experiment": None,
            "attribution_window_s": None,
            "arms": [],
            "store_skipped": False,
        }
        report = _get(url, "/v1/demo/report")
        assert not report["available"] and "missing" in report["detail"] and report["groups"] == []
    for url in serve(no_triton(experiment=None)):  # no catalog: no demo routes
        assert call(url, "/v1/demo/experiment")[0] == 404
        assert call(url, "/v1/demo/report")[0] == 404
