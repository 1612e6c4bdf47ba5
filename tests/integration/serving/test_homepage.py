"""The 14-step and the fused homepage graphs through the real Triton binary."""

from __future__ import annotations

import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from recsys_workloads.online.client import connect
from recsys_workloads.online.seen_filter import make_seen_filter
from recsys_workloads.serving.item_cache import ItemCache
from recsys_workloads.serving.recommender import Recommendation, RecommendationRequest
from recsys_workloads.serving.resources import Resources
from recsys_workloads.serving.triton.client import TritonRecommender, TritonUnavailableError

from .conftest import SERVING, Stack, seed_popularity

GRAPHS = ["homepage", "homepage_fused"]
TS = 1_763_800_000


def _ask(stack: Stack, model: str, request: RecommendationRequest) -> Recommendation:
    client = TritonRecommender(stack.triton.grpc_url, model, timeout_s=30.0)
    try:
        return client.recommend(request)
    finally:
        client.close()


def _known_users(stack: Stack, n: int) -> list[str]:
    return [str(u) for u in Resources(stack.version).transforms.vocabularies["user_id"].values[:n]]


@pytest.mark.parametrize("model", GRAPHS)
def test_answers_are_valid_distinct_and_unseen(homepage_stack: Stack, model: str) -> None:
    user = _known_users(homepage_stack, 1)[0]
    request = RecommendationRequest(user, "web", TS, 12)
    first = _ask(homepage_stack, model, request)
    make_seen_filter(connect(homepage_stack.store.url)).add(user, first.item_ids[:4], time.time())
    answer = _ask(homepage_stack, model, RecommendationRequest(user, "web", TS + 1, 12))
    catalog = set(ItemCache.load(homepage_stack.version).item_ids.tolist())
    assert len(answer.item_ids) == 12 == len(set(answer.item_ids))
    assert set(answer.item_ids) <= catalog
    assert not set(answer.item_ids) & set(first.item_ids[:4])
    assert np.all(np.isfinite(answer.scores)) and not answer.cold_start and not answer.filter_skipped


@pytest.mark.parametrize("model", GRAPHS)
def test_an_item_disappears_right_after_the_user_interacts_with_it(homepage_stack: Stack, model: str) -> None:
    user = _known_users(homepage_stack, 2)[1]
    before = _ask(homepage_stack, model, RecommendationRequest(user, "ios", TS, 5)).item_ids
    make_seen_filter(connect(homepage_stack.store.url)).add(user, [before[0]], time.time())
    after = _ask(homepage_stack, model, RecommendationRequest(user, "ios", TS, 5)).item_ids
    assert before[0] not in after
    assert after[:3] != before[:3] or before[0] not in after


@pytest.mark.parametrize("model", GRAPHS)
def test_anonymous_and_new_visitors_get_cold_start_results(homepage_stack: Stack, model: str) -> None:
    for user in ["", "anon-s1", "brand-new-user"]:
        answer = _ask(homepage_stack, model, RecommendationRequest(user, "", 0, 6))
        assert len(set(answer.item_ids)) == 6
        assert answer.cold_start


@pytest.mark.parametrize("model", GRAPHS)
def test_reranking_respects_the_category_cap(homepage_stack: Stack, model: str) -> None:
    cache = ItemCache.load(homepage_stack.version)
    for user in [*_known_users(homepage_stack, 3), "anon-x"]:
        answer = _ask(homepage_stack, model, RecommendationRequest(user, "android", TS, 15))
        categories = cache.categories[cache.rows(answer.item_ids)]
        assert len(answer.item_ids) == 15
        assert np.bincount(categories).max() <= SERVING.category_cap


@pytest.mark.parametrize("model", GRAPHS)
def test_in_process_and_triton_give_the_same_greedy_ranking(homepage_stack: Stack, model: str) -> None:
    for user in [*_known_users(homepage_stack, 3), "anon-p", ""]:
        request = RecommendationRequest(user, "web", TS, 10, ("x-not-an-item",))
        local = homepage_stack.inprocess.recommend(request)
        remote = _ask(homepage_stack, model, request)
        assert remote.item_ids == local.item_ids
        assert np.allclose(remote.scores, local.scores, atol=1e-5)


def test_excluded_items_are_never_returned(homepage_stack: Stack) -> None:
    user = _known_users(homepage_stack, 1)[0]
    top = _ask(homepage_stack, "homepage", RecommendationRequest(user, "web", TS, 5)).item_ids
    answer = _ask(homepage_stack, "homepage", RecommendationRequest(user, "web", TS, 5, tuple(top[:2])))
    assert not set(top[:2]) & set(answer.item_ids) and len(answer.item_ids) == 5


def test_a_malformed_request_is_rejected_by_triton(homepage_stack: Stack) -> None:
    client = grpcclient.InferenceServerClient(homepage_stack.triton.grpc_url)
    tensor = grpcclient.InferInput("USER_ID", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([b"u"], dtype=np.object_))
    with pytest.raises(Exception, match=r"expected 5 inputs|missing required input"):
        client.infer("homepage", [tensor])


def test_valkey_down_serves_unfiltered_and_flagged(homepage_stack: Stack) -> None:
    store = homepage_stack.store
    store.stop()
    try:
        for model in GRAPHS:
            answer = _ask(homepage_stack, model, RecommendationRequest("anon-down", "web", TS, 5))
            assert len(answer.item_ids) == 5 and answer.filter_skipped
    finally:
        store.start()
        seed_popularity(store.url, homepage_stack.version)


def test_unreachable_triton_raises_a_typed_error() -> None:
    client = TritonRecommender("127.0.0.1:9", "homepage", timeout_s=0.5)
    with pytest.raises(TritonUnavailableError):
        client.recommend(RecommendationRequest(num_items=3))
