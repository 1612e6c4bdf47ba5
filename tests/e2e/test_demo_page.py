"""The demo page in headless Chromium against the real stack, all on loopback ports.

Debian's `chromium` driven by Debian's `chromedriver` through Selenium (Selenium Manager is
never asked to download anything: both paths are given, and `SE_OFFLINE` is set). Behind
the page: the API, the event service, redis-server and tritonserver serving the tiny trained
version (`serving_version`, shared with tests/integration/serving). The stack is this
module's own, because the page's clicks change popularity and seen filters.

Two APIs share that stack: one without an experiment (every visitor gets the model), one
splitting visitors between the model and the popularity path, for the experiment panel; both
chart the tiny version's report, evaluated again with the generator's ground truth so the
oracles are in it.

`RECSYS_SAVE_SCREENSHOT=1` also writes the pictures to docs/images/demo-page.png and
demo-experiment.png.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.contracts.experiment import ResolvedArm, ResolvedExperiment
from recsys_workloads.contracts.serving import ENSEMBLE, POPULAR_ENSEMBLE
from recsys_workloads.data import schema as s
from recsys_workloads.events.app import create_app as create_events_app
from recsys_workloads.events.local_server import ThreadedServer
from recsys_workloads.models import artifacts
from recsys_workloads.models.pipeline import Shop, evaluate_step
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.runtime.toolchain import Toolchain, repo_root
from recsys_workloads.runtime.triton_server import TritonServer
from recsys_workloads.serving.api.app import ApiConfig, create_app
from recsys_workloads.serving.triton.repository import build_version_repository
from tests.integration.serving.conftest import CONFIG, SERVING, seed_popularity

DOCS_SCREENSHOT = repo_root() / "docs" / "images" / "demo-page.png"
DOCS_EXPERIMENT_SCREENSHOT = repo_root() / "docs" / "images" / "demo-experiment.png"
EXPERIMENT = ResolvedExperiment(
    name="demo",
    arms=[
        ResolvedArm(name="model", version=1, weight=50, ensemble=ENSEMBLE),
        ResolvedArm(name="popular", version=None, weight=50, ensemble=POPULAR_ENSEMBLE),  # the API's own
    ],
    attribution_window_s=600,
)
ADAPT_WITHIN_S = 1.0


@dataclass
class DemoStack:
    triton: TritonServer
    store: RedisServer
    events_url: str
    canonical: Path
    report: Path  # a version folder named 1 with its evaluation report


@pytest.fixture(scope="module")
def stack(
    serving_version: Path, toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoStack]:
    """Valkey, Triton on the tiny version, the event service, and the version's report with oracles."""
    work = tmp_path_factory.mktemp("demo-page")
    canonical = serving_version.parent.parent / "canonical"
    report = evaluated_with_oracles(serving_version, work / "evaluated" / "1")
    with RedisServer(toolchain.redis_server, work / "redis") as store:
        seed_popularity(store.url, serving_version)
        repo = build_version_repository(serving_version, work / "models", store.url, config=SERVING)
        triton = TritonServer(toolchain, repo, work).start(timeout_s=300)
        try:
            events_config = EventServiceConfig(
                redis_url=store.url, catalog=canonical, log_dir=work / "events"
            )
            with ThreadedServer(create_events_app(events_config)) as events:
                yield DemoStack(triton, store, events.url, canonical, report)
        finally:
            triton.stop()


def evaluated_with_oracles(version: Path, copy: Path) -> Path:
    """A copy of `version` evaluated again with the generator's ground truth: its report then has
    the oracles beside popularity and the model (the training pipeline has no ground truth)."""
    shutil.copytree(version, copy, ignore=shutil.ignore_patterns(artifacts.EXPORT_DIR))
    root = version.parent.parent
    evaluate_step(Shop.load(root / "canonical"), copy, CONFIG, ground_truth=root / "raw" / s.GROUND_TRUTH_DIR)
    return copy


def _api(stack: DemoStack, experiment: ResolvedExperiment | None) -> Iterator[str]:
    config = ApiConfig(
        triton_url=stack.triton.grpc_url,
        redis_url=stack.store.url,
        catalog=stack.canonical,
        events_url=stack.events_url,
        timeout_s=5,
        experiment=experiment,
        report=stack.report,
    )
    with ThreadedServer(create_app(config)) as api:
        yield api.url + "/"


@pytest.fixture(scope="module")
def page_url(stack: DemoStack) -> Iterator[str]:
    """The API without an experiment: every visitor gets the trained model."""
    yield from _api(stack, None)


@pytest.fixture(scope="module")
def experiment_url(stack: DemoStack) -> Iterator[str]:
    """The API splitting visitors between the trained model and the popularity path."""
    yield from _api(stack, EXPERIMENT)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.fail("Debian's chromium and chromium-driver are missing: run `make chromium`", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SE_OFFLINE", "true")
        driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    try:
        yield driver
    finally:
        driver.quit()


def _refreshes(driver: WebDriver) -> int:
    return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-refreshes") or 0)


def _wait_for_refresh(driver: WebDriver, after: int, timeout_s: float = 20.0) -> None:
    WebDriverWait(driver, timeout_s, poll_frequency=0.02).until(lambda d: _refreshes(d) > after)
    assert driver.find_element(By.ID, "error").text == ""


def _open(driver: WebDriver, url: str) -> None:
    driver.get(url)
    _wait_for_refresh(driver, 0)


def _grid(driver: WebDriver) -> list[str]:
    return [
        c.get_attribute("data-item-id") or "" for c in driver.find_elements(By.CSS_SELECTOR, "#grid .card")
    ]


def _flag(driver: WebDriver, name: str) -> bool:
    return (
        driver.find_element(By.CSS_SELECTOR, f'#flags [data-flag="{name}"]').get_attribute("data-on")
        == "true"
    )


def _choose(driver: WebDriver, select_id: str, value_prefix: str) -> str:
    """Pick the first option whose value starts with `value_prefix`; returns its value."""
    select = Select(driver.find_element(By.ID, select_id))
    value = next(
        o.get_attribute("value") or ""
        for o in select.options
        if (o.get_attribute("value") or "").startswith(value_prefix)
    )
    before = _refreshes(driver)
    select.select_by_value(value)
    _wait_for_refresh(driver, before)
    return value


def _click_and_wait(driver: WebDriver, item: str) -> float:
    """Click a product; seconds until the page shows the next homepage."""
    before = _refreshes(driver)
    card = driver.find_element(By.CSS_SELECTOR, f'#grid .card[data-item-id="{item}"]')
    started = time.monotonic()
    card.click()
    WebDriverWait(driver, ADAPT_WITHIN_S, poll_frequency=0.02).until(lambda d: _refreshes(d) > before)
    elapsed = time.monotonic() - started
    assert driver.find_element(By.ID, "error").text == ""
    return elapsed


def _no_console_errors(driver: WebDriver) -> None:
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]  # type: ignore[no-untyped-call]
    assert errors == []


def test_a_click_hides_the_product_within_a_second_and_the_panel_reports_it(
    page_url: str, browser: WebDriver, tmp_path: Path
) -> None:
    _open(browser, page_url)
    visitor = (
        Select(browser.find_element(By.ID, "visitor")).first_selected_option.get_attribute("value") or ""
    )
    assert visitor.startswith("registered|")  # the user with the most history comes first
    _choose(browser, "device", "ios")
    shown = _grid(browser)
    assert len(shown) == 12 and len(set(shown)) == 12
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#grid .card .name")]
    assert all(names) and not any(n.startswith("item ") for n in names)  # catalog names, not bare ids
    assert browser.find_elements(By.CSS_SELECTOR, "#grid .card svg.placeholder")  # no images offline
    assert browser.find_element(By.CSS_SELECTOR, '#flags [data-flag="source"]').text == "triton"
    assert not _flag(browser, "fallback") and not _flag(browser, "filter-skipped")
    assert not _flag(browser, "cold-start")  # a user the model was trained on

    clicked = shown[1]
    category = browser.find_element(By.CSS_SELECTOR, f'.card[data-item-id="{clicked}"]').get_attribute(
        "data-category"
    )
    elapsed = _click_and_wait(browser, clicked)

    assert elapsed < ADAPT_WITHIN_S
    after = _grid(browser)
    assert clicked not in after and len(after) == 12
    changes = browser.find_element(By.ID, "changes")
    assert changes.find_element(By.CSS_SELECTOR, f'[data-clicked-id="{clicked}"]').text.endswith(
        "hidden as seen."
    )
    assert changes.find_element(By.CSS_SELECTOR, f'[data-removed-id="{clicked}"]')
    added = [
        e.get_attribute("data-added-id") for e in changes.find_elements(By.CSS_SELECTOR, "[data-added-id]")
    ]
    assert set(added) == set(after) - set(shown)
    # The visitor's online top category now follows what they viewed (one recent item).
    assert browser.find_element(By.ID, "top-category").text.endswith(f"→ {category}")
    assert float(browser.find_element(By.ID, "adapted").get_attribute("data-ms") or "inf") < 1000
    assert float(browser.find_element(By.ID, "latency").get_attribute("data-ms") or "inf") > 0
    _no_console_errors(browser)

    assert browser.save_screenshot(str(tmp_path / "demo-page.png"))
    if os.environ.get("RECSYS_SAVE_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(DOCS_SCREENSHOT))


@pytest.mark.parametrize(("kind", "prefix"), [("anonymous", "anon-demo-"), ("new", "new-")])
def test_anonymous_and_new_visitors_get_a_cold_start_homepage_that_adapts(
    page_url: str, browser: WebDriver, kind: str, prefix: str
) -> None:
    _open(browser, page_url)
    value = _choose(browser, "visitor", f"{kind}|")
    assert value.split("|")[1].startswith(prefix)
    assert browser.find_element(By.ID, "who").text == f"{kind}: {value.split('|')[1]}"
    shown = _grid(browser)
    assert len(shown) == 12
    assert _flag(browser, "cold-start") and not _flag(browser, "fallback")

    _click_and_wait(browser, shown[0])

    assert shown[0] not in _grid(browser)
    assert browser.find_element(By.CSS_SELECTOR, f'#changes [data-removed-id="{shown[0]}"]')
    _no_console_errors(browser)


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def _simulated_traffic(api: str) -> dict[str, tuple[int, int]]:
    """Homepages for 40 fresh users and a click on every third: both arms have counts to draw.

    Returns each arm's (homepages, homepages with a click), once the API's log has flushed.
    """
    users = [f"sim-{i}" for i in range(40)]
    pages = [_post(api + "v1/recommendations", {"user_id": u, "num_items": 6}) for u in users]
    time.sleep(0.3)  # the homepage log flushes every 50 ms
    counts = {arm.name: [0, 0] for arm in EXPERIMENT.arms}
    for i, (user, page) in enumerate(zip(users, pages, strict=True)):
        counts[page["arm"]][0] += 1
        if i % 3 == 0 and page["item_ids"]:
            counts[page["arm"]][1] += 1
            event = {
                "event_id": f"sim-event-{i}",
                "user_id": user,
                "item_id": page["item_ids"][0],
                "event_type": "View",
                "recommendation_id": page["recommendation_id"],
            }
            _post(api + "v1/demo/events", event)
    return {arm: (n, clicked) for arm, (n, clicked) in counts.items()}


def _arm_rows(driver: WebDriver) -> dict[str, dict[str, str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#arms-table tbody tr")
    fields = ("data-current", "data-homepages", "data-clicks", "data-shadow")
    return {r.get_attribute("data-arm") or "": {f: r.get_attribute(f) or "" for f in fields} for r in rows}


def _experiment_loads(driver: WebDriver) -> int:
    return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-experiment-loads") or 0)


def test_the_experiment_panel_counts_the_visitors_click_for_their_arm_and_the_report_is_charted(
    experiment_url: str, browser: WebDriver, tmp_path: Path
) -> None:
    traffic = _simulated_traffic(experiment_url)
    _open(browser, experiment_url)
    panel = browser.find_element(By.ID, "experiment-panel")
    assert panel.is_displayed() and "demo" in browser.find_element(By.ID, "experiment-name").text
    rows = _arm_rows(browser)
    assert list(rows) == ["model", "popular"]
    for arm_name, (homepages, clicked) in traffic.items():  # the page's own homepage comes on top
        assert int(rows[arm_name]["data-homepages"]) >= homepages
        assert int(rows[arm_name]["data-clicks"]) == clicked
    bars = browser.find_elements(By.CSS_SELECTOR, "#arms-chart g.arm")
    assert [b.get_attribute("data-arm") for b in bars] == ["model", "popular"]
    mine = [arm for arm, row in rows.items() if row["data-current"] == "true"]
    assert len(mine) == 1
    arm = mine[0]
    assert browser.find_element(By.ID, "arm").text.startswith(arm)
    assert (
        browser.find_element(By.CSS_SELECTOR, f'#arms-chart g.arm[data-arm="{arm}"]').get_attribute(
            "data-current"
        )
        == "true"
    )

    # The page's own homepage is in Valkey after the log's 50 ms flush: a click now counts.
    time.sleep(0.3)
    before_loads = _experiment_loads(browser)
    before = _json(experiment_url + "v1/demo/experiment")
    clicks_before = next(a for a in before["arms"] if a["name"] == arm)["goals"]["click"]["homepages"]
    _click_and_wait(browser, _grid(browser)[0])
    WebDriverWait(browser, 10, poll_frequency=0.05).until(lambda d: _experiment_loads(d) > before_loads)
    row = _arm_rows(browser)[arm]
    assert int(row["data-clicks"]) == clicks_before + 1
    assert row["data-current"] == "true"  # sticky: the same visitor, the same arm
    after = _json(experiment_url + "v1/demo/experiment")
    shown = next(a for a in after["arms"] if a["name"] == arm)
    assert int(row["data-homepages"]) <= shown["homepages"]  # the refreshed homepage may not be flushed yet
    bar = browser.find_element(By.CSS_SELECTOR, f'#arms-chart g.arm[data-arm="{arm}"] rect.bar')
    assert float(bar.get_attribute("data-rate") or "nan") > 0
    whisker = browser.find_element(By.CSS_SELECTOR, f'#arms-chart g.arm[data-arm="{arm}"] g.whisker')
    low, high = (
        float(whisker.get_attribute("data-low") or "nan"),
        float(whisker.get_attribute("data-high") or "nan"),
    )
    assert 0 <= low < float(bar.get_attribute("data-rate") or "nan") < high <= 1

    report = _json(experiment_url + "v1/demo/report")
    assert report["available"] and report["version"] == 1
    groups = browser.find_elements(By.CSS_SELECTOR, "#report-chart g.group")
    assert [g.get_attribute("data-metric") for g in groups] == [g["metric"] for g in report["groups"]]
    assert "recall@100" in [g["metric"] for g in report["groups"]]
    for element, group in zip(groups, report["groups"], strict=True):
        rects = element.find_elements(By.CSS_SELECTOR, "rect.bar")
        assert [r.get_attribute("data-method") for r in rects] == [b["method"] for b in group["bars"]]
        drawn = [float(r.get_attribute("data-value") or "nan") for r in rects]
        assert drawn == pytest.approx([b["value"] for b in group["bars"]])
        labels = [t.text for t in element.find_elements(By.CSS_SELECTOR, "text.value")]
        assert labels == [f"{b['value']:.3f}" for b in group["bars"]]
    recall = next(g for g in report["groups"] if g["metric"] == "recall@100")
    assert {b["role"] for b in recall["bars"]} == {"baseline", "model", "oracle"}
    _no_console_errors(browser)

    browser.set_window_size(1400, 1750)  # the whole page: the grid and both pictures below it
    try:
        assert browser.save_screenshot(str(tmp_path / "demo-experiment.png"))
        if os.environ.get("RECSYS_SAVE_SCREENSHOT") == "1":
            DOCS_EXPERIMENT_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            assert browser.save_screenshot(str(DOCS_EXPERIMENT_SCREENSHOT))
    finally:
        browser.set_window_size(1400, 1000)
