"""The demo page in headless Chromium against the real stack, all on loopback ports.

Debian's `chromium` driven by Debian's `chromedriver` through Selenium (Selenium Manager is
never asked to download anything: both paths are given, and `SE_OFFLINE` is set). Behind
the page: the API, the event service, redis-server and tritonserver serving the tiny trained
version (`serving_version`, shared with tests/integration/serving). The stack is this
module's own, because the page's clicks change popularity and seen filters.

`RECSYS_SAVE_SCREENSHOT=1` also writes the picture to docs/images/demo-page.png.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.events.app import create_app as create_events_app
from recsys_workloads.events.local_server import ThreadedServer
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.runtime.toolchain import Toolchain, repo_root
from recsys_workloads.runtime.triton_server import TritonServer
from recsys_workloads.serving.api.app import ApiConfig, create_app
from recsys_workloads.serving.triton.repository import build_version_repository
from tests.integration.serving.conftest import SERVING, seed_popularity

DOCS_SCREENSHOT = repo_root() / "docs" / "images" / "demo-page.png"
ADAPT_WITHIN_S = 1.0


@pytest.fixture(scope="module")
def page_url(
    serving_version: Path, toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The API (with the catalog and the event service behind it) on a loopback port."""
    work = tmp_path_factory.mktemp("demo-page")
    canonical = serving_version.parent.parent / "canonical"
    with RedisServer(toolchain.redis_server, work / "redis") as store:
        seed_popularity(store.url, serving_version)
        repo = build_version_repository(serving_version, work / "models", store.url, config=SERVING)
        triton = TritonServer(toolchain, repo, work).start(timeout_s=300)
        try:
            events_config = EventServiceConfig(
                redis_url=store.url, catalog=canonical, log_dir=work / "events"
            )
            with ThreadedServer(create_events_app(events_config)) as events:
                config = ApiConfig(
                    triton_url=triton.grpc_url,
                    redis_url=store.url,
                    catalog=canonical,
                    events_url=events.url,
                    timeout_s=5,
                )
                with ThreadedServer(create_app(config)) as api:
                    yield api.url + "/"
        finally:
            triton.stop()


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
