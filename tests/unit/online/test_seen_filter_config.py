"""SeenFilterConfig defaults and derived sizing (pure)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from recsys_workloads.contracts import bloom_sizing
from recsys_workloads.contracts.online import SeenFilterConfig


def test_defaults_are_a_seven_day_window_of_5000_items_at_one_percent() -> None:
    config = SeenFilterConfig()
    assert (config.window_days, config.capacity, config.error_rate, config.backend) == (7, 5000, 0.01, "auto")
    assert config.ttl == 8 * 86_400


def test_day_filters_are_sized_so_the_whole_window_meets_the_rate() -> None:
    config = SeenFilterConfig()
    bits, hashes = config.sizing
    day_fpr = bloom_sizing.expected_fpr(bits, hashes, config.capacity)
    assert 1 - (1 - day_fpr) ** config.window_days == pytest.approx(0.01, rel=0.05)


def test_ttl_override_is_for_tests() -> None:
    assert SeenFilterConfig(ttl_seconds=2).ttl == 2


@pytest.mark.parametrize(
    "bad", [{"window_days": 0}, {"error_rate": 0.0}, {"capacity": 0}, {"backend": "x"}, {"windowdays": 3}]
)
def test_invalid_settings_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SeenFilterConfig.model_validate(bad)
