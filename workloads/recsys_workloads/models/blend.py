"""The final ranking score: the ranker's log-odds plus the item's exposure prior, fitted on a held-out day.

The ranker learns P(click | item shown), but its negatives are shown or sampled in
proportion to popularity (the shop's slates, popularity^0.75 sampling), so its log-odds are
roughly log P(item | visitor) - log q(item): it demotes exactly the popular items visitors
do click. The final score adds the prior back with a fitted weight (docs/decisions/0011):

    score = sigmoid(a · logit(p_ranker) + b · log1p(training clicks of the item) + c)

(a, b, c) are a logistic regression of "the visitor clicked this item that day" on the
retrieved candidates of a day the models did not train on, i.e. on the distribution the
score is applied to. New items (out of the training vocabulary, no clicks) get the median
prior of the candidates (`with_new_item_prior`). The exported ranking model computes this score itself, so serving
runs it unchanged; `blend_scores` is the NumPy reference the parity test compares it to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import keras
import numpy as np
import numpy.typing as npt
from keras import ops
from pydantic import BaseModel, ConfigDict, Field

from recsys_workloads.features import transform as ft
from recsys_workloads.features.vocabulary import ANONYMOUS_INDEX, OOV_INDEX

BLEND_FILE: Final = "blend.json"
PRIOR_FILE: Final = "item_log_prior.npy"
EPS: Final = 1e-6
FloatArray = npt.NDArray[np.float64]


class ScoreBlend(BaseModel):
    """Weights of the final score and where they were fitted (saved beside the ranker)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ranker_weight: float = Field(description="a: weight of the ranker's log-odds")
    prior_weight: float = Field(description="b: weight of log1p(training clicks of the item)")
    bias: float = Field(description="c: intercept")
    fit_day: int | None = Field(None, description="day whose retrieved candidates fitted the weights")
    held_out: bool = Field(False, description="whether neither model trained on fit_day")
    rows: int = Field(0, ge=0, description="(visitor, candidate) rows of the fit")

    @classmethod
    def identity(cls) -> ScoreBlend:
        """The ranker alone (what a version without a fitted blend serves)."""
        return cls(ranker_weight=1.0, prior_weight=0.0, bias=0.0)


def item_log_prior(item_id_index: npt.NDArray[np.int64], vocabulary_size: int) -> FloatArray:
    """log1p(click count) per item-id vocabulary index; the OOV and missing buckets get 0 (no clicks).

    `with_new_item_prior` then gives the OOV bucket (items released after training) its value.
    """
    counts = np.bincount(item_id_index, minlength=vocabulary_size)[:vocabulary_size].astype(np.float64)
    counts[: ANONYMOUS_INDEX + 1] = 0.0
    return np.log1p(counts)


def with_new_item_prior(
    log_prior: npt.NDArray[np.float64], candidate_item_ids: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """The prior with the OOV bucket set to the median prior of the known candidates.

    Items released after training share the OOV id and have no clicks, so a prior of 0 put
    them below nearly every candidate: re-ranking dropped the new items the two-tower found
    from content (demo shop, new_items segment: recall@100 0.44 retrieved, 0.00 re-ranked).
    Without evidence of its popularity a new item ranks as a typical candidate, and the
    ranker and retrieval decide. A weight fitted for new items (like a, b, c) was tried: it
    came out at 1.5-1.8 where the median prior is worth 2.6, and kept new items buried (0.01)
    for no overall gain (all: 0.5551 fitted vs 0.5547 median).
    """
    ids = np.asarray(candidate_item_ids, dtype=np.int64).reshape(-1)
    known = ids[ids > ANONYMOUS_INDEX]
    out = np.array(log_prior, dtype=np.float64)
    out[OOV_INDEX] = float(np.median(out[known])) if len(known) else 0.0
    return out


def logit(probability: npt.ArrayLike) -> FloatArray:
    p = np.clip(np.asarray(probability, dtype=np.float64), EPS, 1.0 - EPS)
    return np.asarray(np.log(p) - np.log1p(-p), dtype=np.float64)


def blend_logits(probability: npt.ArrayLike, log_prior: npt.ArrayLike, blend: ScoreBlend) -> FloatArray:
    z = (
        blend.ranker_weight * logit(probability)
        + blend.prior_weight * np.asarray(log_prior, dtype=np.float64)
        + blend.bias
    )
    return np.asarray(z, dtype=np.float64)


def blend_scores(probability: npt.ArrayLike, log_prior: npt.ArrayLike, blend: ScoreBlend) -> FloatArray:
    """The final score in NumPy: what the exported ranking model returns."""
    return np.asarray(1.0 / (1.0 + np.exp(-blend_logits(probability, log_prior, blend))), dtype=np.float64)


def fit_logistic(
    features: npt.ArrayLike, labels: npt.ArrayLike, l2: float = 1e-4, iterations: int = 30
) -> FloatArray:
    """Weights then intercept of an L2-regularised logistic regression (Newton's method).

    A handful of columns and up to a few million rows: exact, deterministic, no solver dependency.
    """
    x = np.column_stack([np.asarray(features, dtype=np.float64), np.ones(len(np.asarray(labels)))])
    y = np.asarray(labels, dtype=np.float64)
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0  # the intercept is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) / len(y) + penalty * w
        hessian = (x * (p * (1.0 - p))[:, None]).T @ x / len(y) + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return w


def fit_blend(
    probability: npt.ArrayLike,
    log_prior: npt.ArrayLike,
    relevant: npt.ArrayLike,
    *,
    fit_day: int | None = None,
    held_out: bool = False,
) -> ScoreBlend:
    """Fit (a, b, c) on retrieved candidates: `relevant` = the visitor clicked the item that day."""
    labels = np.asarray(relevant, dtype=np.float64).reshape(-1)
    if labels.min(initial=1.0) == labels.max(initial=0.0):  # one class only: nothing to fit
        return ScoreBlend.identity()
    x = np.column_stack([logit(probability).reshape(-1), np.asarray(log_prior, dtype=np.float64).reshape(-1)])
    a, b, c = fit_logistic(x, labels)
    return ScoreBlend(
        ranker_weight=float(a),
        prior_weight=float(b),
        bias=float(c),
        fit_day=fit_day,
        held_out=held_out,
        rows=len(labels),
    )


class BlendLayer(keras.layers.Layer):  # type: ignore[misc]
    """The final score inside the exported model (a gather and a few scalar ops)."""

    def __init__(self, log_prior: npt.NDArray[np.float64], blend: ScoreBlend, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.blend = blend
        self.log_prior = self.add_weight(
            shape=(len(log_prior),),
            initializer=keras.initializers.Constant(np.asarray(log_prior, dtype=np.float32)),
            trainable=False,
            name="item_log_prior",
        )

    def call(self, probability: Any, item_id: Any) -> Any:
        p = ops.clip(ops.cast(probability, "float32"), EPS, 1.0 - EPS)
        prior = ops.take(self.log_prior, ops.cast(item_id, "int32"), axis=0)
        b = self.blend
        z = b.ranker_weight * (ops.log(p) - ops.log(1.0 - p)) + b.prior_weight * prior + b.bias
        return ops.sigmoid(z)


def final_model(ranker: keras.Model, log_prior: npt.NDArray[np.float64], blend: ScoreBlend) -> keras.Model:
    """The ranker with the final score on top: same named inputs, what is exported for serving."""
    inputs = {name: keras.Input(shape=x.shape[1:], dtype=x.dtype, name=name) for name, x in _named(ranker)}
    output = BlendLayer(log_prior, blend, name="final_score")(ranker(inputs), inputs[ft.ITEM_ID])
    return keras.Model(inputs=inputs, outputs=output, name="dlrm_ranking")


def _named(model: keras.Model) -> list[tuple[str, Any]]:
    return [(x.name, x) for x in model.inputs]


def save(directory: Path, log_prior: npt.NDArray[np.float64], blend: ScoreBlend) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / PRIOR_FILE, np.asarray(log_prior, dtype=np.float64))
    (directory / BLEND_FILE).write_text(blend.model_dump_json(indent=1) + "\n")


def load(directory: Path) -> tuple[npt.NDArray[np.float64], ScoreBlend] | None:
    """The prior and weights saved with a ranker, or None (versions trained before the blend)."""
    if not (directory / BLEND_FILE).exists():
        return None
    blend = ScoreBlend.model_validate_json((directory / BLEND_FILE).read_text())
    return np.load(directory / PRIOR_FILE), blend
