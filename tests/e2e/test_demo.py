"""`recsys demo` end to end on a tiny shop: real generator, redis-server and tritonserver."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from recsys_workloads.demo import NEW_USER, DemoConfig, run_demo


def test_demo_serves_every_visitor_kind_and_hides_an_item_once_viewed(tmp_path: Path) -> None:
    console = Console(record=True, width=120)
    config = DemoConfig(workdir=tmp_path / "demo", users=300, interactions=5_000, num_items=5, train=False)
    registered, anonymous, new_user, after = run_demo(config, console)

    for page in (registered, anonymous, new_user, after):
        assert len(page.item_ids) == 5
        assert len(set(page.item_ids)) == 5
        assert not page.filter_skipped
    assert anonymous.user.startswith("anon-")
    assert new_user.user == NEW_USER
    assert new_user.device == "(missing)"
    clicked = registered.item_ids[0]
    assert clicked not in after.item_ids
    assert after.item_ids[:4] == registered.item_ids[1:]
    output = console.export_text()
    assert "redis-server" in output
    assert "tritonserver" in output
    assert "demo finished" in output


def test_demo_reuses_the_generated_shop_on_a_second_run(tmp_path: Path) -> None:
    config = DemoConfig(workdir=tmp_path / "demo", users=200, interactions=2_000, num_items=3, train=False)
    run_demo(config, Console(record=True))
    shop_items = (tmp_path / "demo" / "shop" / "items.parquet").stat().st_mtime_ns
    console = Console(record=True, width=120)
    run_demo(config, console)
    assert "reusing the generated shop" in console.export_text()
    assert (tmp_path / "demo" / "shop" / "items.parquet").stat().st_mtime_ns == shop_items


@pytest.mark.parametrize("bad", [{"users": 10}, {"interactions": 5}, {"num_items": 0}])
def test_demo_config_rejects_nonsense(tmp_path: Path, bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="greater than or equal"):
        DemoConfig(workdir=tmp_path, **bad)


def test_trained_demo_serves_the_14_step_ensemble_of_the_version_it_trained(tmp_path: Path) -> None:
    console = Console(record=True, width=140)
    config = DemoConfig(workdir=tmp_path / "demo", users=300, interactions=8_000, days=4, num_items=5)
    registered, anonymous, new_user, after = run_demo(config, console)
    output = console.export_text()
    assert "serving: 14-step ensemble homepage, model version 1" in output
    assert (tmp_path / "demo" / "versions" / "1").is_dir()
    for page in (registered, anonymous, new_user, after):
        assert len(set(page.item_ids)) == len(page.item_ids) == 5
    assert registered.item_ids[0] not in after.item_ids
