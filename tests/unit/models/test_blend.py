"""The final ranking score (models.blend): prior, fit and NumPy reference on known cases."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_workloads.evaluation.metrics import recall_at_k
from recsys_workloads.evaluation.retrieval import rerank
from recsys_workloads.models.blend import (
    ScoreBlend,
    blend_scores,
    fit_blend,
    fit_logistic,
    item_log_prior,
    logit,
    with_new_item_prior,
)
from recsys_workloads.models.pipeline import blend_day


def test_prior_counts_clicks_per_item_id_and_gives_the_oov_and_missing_buckets_none() -> None:
    prior = item_log_prior(np.array([0, 1, 2, 2, 2, 4]), vocabulary_size=5)
    np.testing.assert_allclose(prior, np.log1p([0, 0, 3, 0, 1]))


def test_logistic_fit_recovers_the_weights_that_generated_the_labels() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50_000, 2))
    labels = rng.random(len(x)) < 1 / (1 + np.exp(-(1.5 * x[:, 0] - 0.7 * x[:, 1] + 0.3)))
    np.testing.assert_allclose(fit_logistic(x, labels, l2=0.0), [1.5, -0.7, 0.3], atol=0.06)


def test_identity_blend_is_the_ranker_probability() -> None:
    p = np.array([0.01, 0.3, 0.9])
    np.testing.assert_allclose(blend_scores(p, [5.0, 0.0, 2.0], ScoreBlend.identity()), p)
    blend = ScoreBlend(ranker_weight=2.0, prior_weight=0.5, bias=-1.0)
    z = 2.0 * logit(p) + 0.5 * np.array([5.0, 0.0, 2.0]) - 1.0
    np.testing.assert_allclose(blend_scores(p, [5.0, 0.0, 2.0], blend), 1 / (1 + np.exp(-z)))


def test_fitted_blend_restores_the_popularity_an_exposure_biased_ranker_removed() -> None:
    """Clicks follow affinity + popularity; the ranker saw only affinity - popularity (its negatives
    were popular): the fit puts the prior back and ranks the clicked items higher than the ranker."""
    rng = np.random.default_rng(1)
    queries, candidates = 400, 50
    affinity = rng.normal(size=(queries, candidates))
    log_prior = rng.exponential(1.5, size=(queries, candidates))
    clicked = rng.random((queries, candidates)) < 1 / (1 + np.exp(-(affinity + log_prior - 4)))
    ranker = 1 / (1 + np.exp(-(affinity - 0.5 * log_prior)))
    blend = fit_blend(ranker, log_prior, clicked, fit_day=6, held_out=True)
    assert blend.prior_weight > 0.5 and blend.ranker_weight > 0.5
    assert (blend.fit_day, blend.held_out, blend.rows) == (6, True, queries * candidates)
    rows = np.tile(np.arange(candidates), (queries, 1))
    relevant = [np.flatnonzero(c) for c in clicked]

    def recall(scores: np.ndarray) -> float:
        return recall_at_k(rerank(rows, scores.astype(np.float32), 10), relevant, 10)

    assert recall(blend_scores(ranker, log_prior, blend)) > recall(ranker) + 0.05


def test_new_items_get_the_median_prior_of_the_known_candidates() -> None:
    prior = item_log_prior(np.array([2, 3, 3, 4, 4, 4, 5] + [5] * 20), vocabulary_size=6)
    filled = with_new_item_prior(prior, np.array([0, 0, 2, 3, 4, 1, 4]))  # OOV, missing, known ids
    assert filled[0] == np.median(prior[[2, 3, 4, 4]])  # the OOV bucket: median over known ids only
    np.testing.assert_array_equal(filled[1:], prior[1:])  # nothing else moves
    assert prior[0] == 0.0  # the input is not modified
    assert with_new_item_prior(prior, np.array([0, 1]))[0] == 0.0  # no known candidate: no evidence


def test_a_fit_without_both_classes_falls_back_to_the_ranker_alone() -> None:
    assert fit_blend([0.2, 0.4], [1.0, 2.0], [False, False]) == ScoreBlend.identity()


@pytest.mark.parametrize(
    ("days", "train_days", "eval_day", "expected"),
    [
        (list(range(8)), list(range(6)), 7, (6, True)),  # day 6 held out: fit there
        (list(range(8)), list(range(7)), 7, (6, False)),  # nothing held out: last training day
        (list(range(8)), [0, 1, 2], 4, (3, True)),  # only days before the evaluation day count
    ],
)
def test_blend_day_prefers_the_latest_day_the_models_did_not_train_on(
    days: list[int], train_days: list[int], eval_day: int, expected: tuple[int, bool]
) -> None:
    assert blend_day(days, train_days, eval_day) == expected
