"""Forward-decay arithmetic of the popularity sets (pure)."""

from __future__ import annotations

import math

import pytest

from recsys_workloads.contracts.online import PopularityConfig
from recsys_workloads.online.popularity import decayed, era_of, forward_weight, landmark

CONFIG = PopularityConfig(half_life_hours=24)
T = 20_000 * 86_400.0 + 12_345.0


def test_an_event_reads_as_weight_one_at_its_own_time() -> None:
    era = era_of(T, CONFIG)
    assert decayed(forward_weight(T, era, CONFIG), T, era, CONFIG) == pytest.approx(1.0)


def test_an_event_weighs_half_after_one_half_life() -> None:
    era = era_of(T, CONFIG)
    later = T + CONFIG.half_life_s
    assert decayed(forward_weight(T, era, CONFIG), later, era, CONFIG) == pytest.approx(0.5)


def test_ranking_is_unchanged_by_the_read_time() -> None:
    era = era_of(T, CONFIG)
    old, new = forward_weight(T - 3600, era, CONFIG), forward_weight(T, era, CONFIG)
    for read_at in (T, T + 86_400, T + 10 * 86_400):
        assert decayed(new, read_at, era, CONFIG) > decayed(old, read_at, era, CONFIG)


def test_raw_weights_stay_bounded_within_two_eras() -> None:
    era = era_of(T, CONFIG)
    for target in (era, era + 1):
        for at in (landmark(era, CONFIG), landmark(era + 1, CONFIG) - 1e-3):
            weight = forward_weight(at, target, CONFIG)
            assert 2.0**-CONFIG.era_half_lives <= weight * (1 + 1e-9)
            assert weight <= 2.0**CONFIG.era_half_lives
    assert math.isfinite(forward_weight(T, era, CONFIG))


def test_config_rejects_nonpositive_half_life() -> None:
    with pytest.raises(ValueError):
        PopularityConfig(half_life_hours=0)
