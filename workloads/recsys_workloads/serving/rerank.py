"""Step 13: diversity (per-category cap) and softmax sampling over the ranked candidates.

Sampling without replacement from softmax(score / T) is done with Gumbel-top-k (the
order of score / T + Gumbel noise), which is exactly sequential softmax sampling. T → 0
is greedy (T = 0 sorts, no noise), large T is uniform: the temperature means what it says.
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt

MIN_TEMPERATURE = 1e-9


def request_seed(user_key: str, timestamp: int) -> int:
    """Stable per-request seed: the same request samples the same homepage (tests, retries)."""
    return zlib.crc32(f"{user_key}:{timestamp}".encode())


def rerank(
    scores: npt.ArrayLike,
    categories: npt.ArrayLike,
    k: int,
    category_cap: int = 0,
    temperature: float = 0.0,
    rng: np.random.Generator | None = None,
    top_k: int | None = None,
) -> npt.NDArray[np.int64]:
    """Positions of the `k` chosen candidates, in display order.

    The `top_k` best-scored candidates (the seed's ranking top-K) are sampled in order. At
    most `category_cap` items per category (0: no cap): when the top-K pool is not diverse
    enough, lower-ranked candidates of other categories follow in score order; only if all
    candidates cannot fill `k` is the cap relaxed, so the page is never short.
    """
    s = np.asarray(scores, dtype=np.float64)
    cats = np.asarray(categories)
    ranked = np.argsort(-s, kind="stable")
    pool, rest = ranked[: top_k or len(s)], ranked[top_k or len(s) :]
    if temperature > 0:
        generator = rng or np.random.default_rng()
        keys = s[pool] / max(temperature, MIN_TEMPERATURE) + generator.gumbel(size=len(pool))
        pool = pool[np.argsort(-keys, kind="stable")]
    if category_cap <= 0:
        return pool[:k].astype(np.int64)
    chosen: list[int] = []
    skipped: list[int] = []
    counts: dict[object, int] = {}
    for pos in [*pool.tolist(), *rest.tolist()]:
        cat = cats[pos].item()
        if counts.get(cat, 0) < category_cap:
            counts[cat] = counts.get(cat, 0) + 1
            chosen.append(pos)
            if len(chosen) == k:
                break
        else:
            skipped.append(pos)
    chosen += skipped[: max(0, k - len(chosen))]
    return np.array(chosen, dtype=np.int64)
