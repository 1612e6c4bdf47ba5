"""The 14 request-path steps as tensor functions, and the Triton graphs built from them.

Every step reads and writes named NumPy tensors (the names the Triton configs declare) and
calls one plain function of this package. The same step objects run in three places:
one Triton model per step (`homepage`, 14 steps), a few Triton models that each run
several steps in a row (`homepage_fused`), and `Recommender` in-process. Configs in
`triton_models/` are generated from these specs (`render_templates`) and a test keeps
them in sync, so an ensemble can never wire a tensor the functions do not produce.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from recsys_workloads.features import transform as ft
from recsys_workloads.features.vocabulary import ANONYMOUS_INDEX, OOV_INDEX
from recsys_workloads.serving.context import preprocess_context
from recsys_workloads.serving.filtering import filter_candidates
from recsys_workloads.serving.item_cache import transform_cached_items
from recsys_workloads.serving.popular import is_anonymous
from recsys_workloads.serving.ranking import UNROLLED_SUFFIX, rank, unroll
from recsys_workloads.serving.rerank import request_seed, rerank
from recsys_workloads.serving.resources import Resources
from recsys_workloads.serving.retrieval import retrieve
from recsys_workloads.serving.user_lookup import lookup_user

Tensors = dict[str, npt.NDArray[Any]]
StepFn = Callable[[Resources, Tensors], Tensors]

# name -> (Triton data type, dims); max_batch_size is 0 everywhere (one request per call).
TENSORS: Final[dict[str, tuple[str, tuple[int, ...]]]] = {
    "USER_ID": ("TYPE_STRING", (1,)),
    "DEVICE": ("TYPE_STRING", (1,)),
    "TIMESTAMP": ("TYPE_INT64", (1,)),
    "NUM_ITEMS": ("TYPE_INT32", (1,)),
    "EXCLUDE_ITEM_IDS": ("TYPE_STRING", (-1,)),
    "TIMESTAMP_FILLED": ("TYPE_INT64", (1,)),
    "DEVICE_NAME": ("TYPE_STRING", (1,)),
    "USER_KEY": ("TYPE_STRING", (1,)),
    "RECENT_ITEM_IDS": ("TYPE_STRING", (-1,)),
    "TOP_CATEGORY_NAME": ("TYPE_STRING", (1,)),
    "AGE_YEARS": ("TYPE_FP32", (1,)),
    "GENDER_NAME": ("TYPE_STRING", (1,)),
    "COLD_START": ("TYPE_BOOL", (1,)),
    "QUERY_EMBEDDING": ("TYPE_FP32", (1, -1)),
    "CANDIDATE_ROWS": ("TYPE_INT64", (-1,)),
    "KEPT_ROWS": ("TYPE_INT64", (-1,)),
    "FILTER_SKIPPED": ("TYPE_BOOL", (1,)),
    "RANK_SCORES": ("TYPE_FP32", (-1,)),
    "FINAL_ROWS": ("TYPE_INT64", (-1,)),
    "SCORES": ("TYPE_FP32", (-1,)),
    "ITEM_IDS": ("TYPE_STRING", (-1,)),
}
_DENSE = {ft.AGE, ft.HOUR_SIN, ft.HOUR_COS, ft.WEEKDAY_SIN, ft.WEEKDAY_COS, ft.PRICE}
for _name in ft.QUERY_FEATURES:
    _dims = (1, -1) if _name == ft.RECENT_ITEMS else (1,)
    _type = "TYPE_FP32" if _name in _DENSE else "TYPE_INT64"
    TENSORS[_name] = (_type, _dims)
    TENSORS[_name + UNROLLED_SUFFIX] = (_type, (-1, -1) if _name == ft.RECENT_ITEMS else (-1,))
for _name in ft.ITEM_FEATURES:
    _type = "TYPE_FP32" if _name in _DENSE else "TYPE_INT64"
    TENSORS[_name] = (_type, (-1,))
    TENSORS["cached_" + _name] = (_type, (-1,))
for _name in ft.CONTENT_FEATURES:
    TENSORS[_name] = ("TYPE_FP32", (-1, -1))

REQUEST_INPUTS: Final = ("USER_ID", "DEVICE", "TIMESTAMP", "NUM_ITEMS", "EXCLUDE_ITEM_IDS")
RESPONSE_OUTPUTS: Final = ("ITEM_IDS", "SCORES", "COLD_START", "FILTER_SKIPPED")


@dataclass(frozen=True)
class Step:
    name: str
    doc: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    needs: tuple[str, ...]
    fn: StepFn


def texts(values: npt.NDArray[Any]) -> list[str]:
    """A Triton string tensor (bytes objects) as Python strings."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).reshape(-1).tolist()]


def encode(values: Sequence[str]) -> npt.NDArray[np.object_]:
    return np.array([v.encode() for v in values], dtype=np.object_)


def _scalar(t: Tensors, name: str) -> Any:
    return np.asarray(t[name]).reshape(-1)[0].item()


def _context_preprocessor(_: Resources, t: Tensors) -> Tensors:
    ts, names = preprocess_context(t["TIMESTAMP"].reshape(-1), texts(t["DEVICE"]), now=int(time.time()))
    return {"TIMESTAMP_FILLED": ts.reshape(1), "DEVICE_NAME": encode([str(n) for n in names])}


def _user_lookup(res: Resources, t: Tensors) -> Tensors:
    width = res.transforms.recent_items
    user = lookup_user(res.client, texts(t["USER_ID"])[0], width, res.profiles)
    recent = (user.recent_items + [""] * width)[:width]  # "" pads: the missing bucket
    return {
        "USER_KEY": encode([user.user_key]),
        "RECENT_ITEM_IDS": encode(recent),
        "TOP_CATEGORY_NAME": encode([user.top_category or ""]),
        "AGE_YEARS": np.array([user.age], dtype=np.float32),
        "GENDER_NAME": encode([user.gender or ""]),
    }


def _user_transform(res: Resources, t: Tensors) -> Tensors:
    key = texts(t["USER_KEY"])[0]
    user_id = None if is_anonymous(key) else key
    gender, top = texts(t["GENDER_NAME"])[0] or None, texts(t["TOP_CATEGORY_NAME"])[0] or None
    recent = [item for item in texts(t["RECENT_ITEM_IDS"]) if item]
    out: Tensors = dict(
        ft.transform_users(res.transforms, [user_id], t["AGE_YEARS"], [gender], [top], [recent])
    )
    out["COLD_START"] = np.isin(out[ft.USER_ID], [OOV_INDEX, ANONYMOUS_INDEX])
    return out


def _context_transform(res: Resources, t: Tensors) -> Tensors:
    return dict(ft.transform_context(res.transforms, t["TIMESTAMP_FILLED"], texts(t["DEVICE_NAME"])))


def _query_tower(res: Resources, t: Tensors) -> Tensors:
    return {"QUERY_EMBEDDING": res.query_model(t).reshape(1, -1)}


def _faiss_retrieval(res: Resources, t: Tensors) -> Tensors:
    rows, _ = retrieve(res.index, t["QUERY_EMBEDDING"], res.config.retrieval_top_k)
    return {"CANDIDATE_ROWS": rows}


def _filter_seen_items(res: Resources, t: Tensors) -> Tensors:
    exclude = [item for item in texts(t["EXCLUDE_ITEM_IDS"]) if item]
    kept = filter_candidates(
        res.items,
        t["CANDIDATE_ROWS"],
        res.seen_filter,
        texts(t["USER_KEY"])[0],
        time.time(),  # the seen window is relative to now; the request time only drives context
        exclude,
        need=int(_scalar(t, "NUM_ITEMS")),
        popular=res.popular,
    )
    return {"KEPT_ROWS": kept.rows, "FILTER_SKIPPED": np.array([kept.filter_skipped], dtype=np.bool_)}


def _item_lookup(res: Resources, t: Tensors) -> Tensors:
    return {"cached_" + k: v for k, v in res.items.item_features(t["KEPT_ROWS"]).items()}


def _item_transform(res: Resources, t: Tensors) -> Tensors:
    return dict(transform_cached_items(res.transforms, {k: t["cached_" + k] for k in ft.ITEM_FEATURES}))


def _embedding_lookup(res: Resources, t: Tensors) -> Tensors:
    return dict(res.items.content(t["KEPT_ROWS"]))


def _unroll_features(_: Resources, t: Tensors) -> Tensors:
    rolled = unroll({k: t[k] for k in ft.QUERY_FEATURES}, len(t["KEPT_ROWS"]))
    return {k + UNROLLED_SUFFIX: v for k, v in rolled.items()}


def _dlrm_ranking(res: Resources, t: Tensors) -> Tensors:
    features = {k: t[k + UNROLLED_SUFFIX] for k in ft.QUERY_FEATURES}
    features.update({k: t[k] for k in ft.ITEM_FEATURES + ft.CONTENT_FEATURES})
    return {"RANK_SCORES": rank(res.ranker, features)}


def _rerank(res: Resources, t: Tensors) -> Tensors:
    rows, scores = t["KEPT_ROWS"], t["RANK_SCORES"]
    seed = request_seed(texts(t["USER_KEY"])[0], int(_scalar(t, "TIMESTAMP_FILLED")))
    c = res.config
    chosen = rerank(
        scores,
        res.items.categories[rows],
        int(_scalar(t, "NUM_ITEMS")),
        c.category_cap,
        c.temperature,
        np.random.default_rng(seed),
        c.ranking_top_k,
    )
    return {"FINAL_ROWS": rows[chosen], "SCORES": scores[chosen].astype(np.float32)}


def _item_id_decoder(res: Resources, t: Tensors) -> Tensors:
    return {"ITEM_IDS": res.items.decode(t["FINAL_ROWS"])}


_Q = tuple(ft.QUERY_FEATURES)
STEPS: Final[tuple[Step, ...]] = (
    Step("context_preprocessor", "Step 1: missing timestamp -> now, missing or unknown device -> unknown",
         ("TIMESTAMP", "DEVICE"), ("TIMESTAMP_FILLED", "DEVICE_NAME"), (), _context_preprocessor),
    Step("user_lookup", "Step 2: recent items, top category (Valkey), age, gender (the version's profiles)",
         ("USER_ID",), ("USER_KEY", "RECENT_ITEM_IDS", "TOP_CATEGORY_NAME", "AGE_YEARS", "GENDER_NAME"),
         ("transforms", "client", "profiles"), _user_lookup),
    Step("user_transform", "Step 3: fitted user transforms (vocabularies, age buckets); flags cold start",
         ("USER_KEY", "AGE_YEARS", "GENDER_NAME", "TOP_CATEGORY_NAME", "RECENT_ITEM_IDS"),
         (*ft.USER_FEATURES, "COLD_START"), ("transforms",), _user_transform),
    Step("context_transform", "Step 4: hour and weekday as sin/cos, device vocabulary",
         ("TIMESTAMP_FILLED", "DEVICE_NAME"), tuple(ft.CONTEXT_FEATURES), ("transforms",), _context_transform),
    Step("query_tower", "Step 5: two-tower query embedding (ONNX, onnxruntime)",
         _Q, ("QUERY_EMBEDDING",), ("query_model",), _query_tower),
    Step("faiss_retrieval", "Step 6: top-K catalog rows from the FAISS item index",
         ("QUERY_EMBEDDING",), ("CANDIDATE_ROWS",), ("index",), _faiss_retrieval),
    Step("filter_seen_items", "Step 7: drop seen (Valkey Bloom filters) and excluded items; popularity backfill",
         ("USER_KEY", "CANDIDATE_ROWS", "EXCLUDE_ITEM_IDS", "NUM_ITEMS"),
         ("KEPT_ROWS", "FILTER_SKIPPED"), ("items", "seen_positions", "seen_filter", "popularity"),
         _filter_seen_items),
    Step("item_lookup", "Step 8: item features from the in-memory cache of the model version",
         ("KEPT_ROWS",), tuple("cached_" + k for k in ft.ITEM_FEATURES), ("items",), _item_lookup),
    Step("item_transform", "Step 9: the ranker's item inputs (fitted item transforms' output, OOV-guarded)",
         tuple("cached_" + k for k in ft.ITEM_FEATURES), tuple(ft.ITEM_FEATURES), ("transforms",),
         _item_transform),
    Step("embedding_lookup", "Step 10: multimodal (image, text) item embeddings from the cache",
         ("KEPT_ROWS",), tuple(ft.CONTENT_FEATURES), ("items",), _embedding_lookup),
    Step("unroll_features", "Step 11: repeat the visitor's features once per candidate",
         (*_Q, "KEPT_ROWS"), tuple(k + UNROLLED_SUFFIX for k in _Q), (), _unroll_features),
    Step("dlrm_ranking", "Step 12: DLRM click probability per candidate (ONNX, onnxruntime)",
         (*(k + UNROLLED_SUFFIX for k in _Q), *ft.ITEM_FEATURES, *ft.CONTENT_FEATURES), ("RANK_SCORES",),
         ("ranker",), _dlrm_ranking),
    Step("rerank", "Step 13: ranking top-K, per-category cap, softmax sampling (T = 0: greedy)",
         ("KEPT_ROWS", "RANK_SCORES", "NUM_ITEMS", "USER_KEY", "TIMESTAMP_FILLED"), ("FINAL_ROWS", "SCORES"),
         ("items",), _rerank),
    Step("item_id_decoder", "Step 14: catalog rows -> item ids",
         ("FINAL_ROWS",), ("ITEM_IDS",), ("items",), _item_id_decoder),
)  # fmt: skip
STEP_BY_NAME: Final = {s.name: s for s in STEPS}

FUSED_MODELS: Final[dict[str, tuple[str, ...]]] = {
    "fused_features": tuple(s.name for s in STEPS[0:4]),
    "fused_retrieve_rank": tuple(s.name for s in STEPS[4:12]),
    "fused_rerank_decode": tuple(s.name for s in STEPS[12:14]),
}


@dataclass(frozen=True)
class ModelSpec:
    """One Triton model: the steps it runs in order and the tensors it exchanges."""

    name: str
    steps: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _ordered(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def graph_models(groups: Mapping[str, Sequence[str]]) -> list[ModelSpec]:
    """Inputs: what a model's steps read that they do not produce; outputs: what later models
    or the response read (a single-step model declares every output of its step)."""
    items = list(groups.items())
    models = []
    for i, (name, steps) in enumerate(items):
        produced: set[str] = set()
        inputs: list[str] = []
        for step in (STEP_BY_NAME[s] for s in steps):
            inputs += [n for n in step.inputs if n not in produced]
            produced.update(step.outputs)
        later = {n for _, ss in items[i + 1 :] for s in ss for n in STEP_BY_NAME[s].inputs}
        all_out = [n for s in steps for n in STEP_BY_NAME[s].outputs]
        outputs = all_out if len(steps) == 1 else [n for n in all_out if n in later or n in RESPONSE_OUTPUTS]
        models.append(ModelSpec(name, tuple(steps), _ordered(inputs), _ordered(outputs)))
    return models


def ensemble_models(graph: str) -> list[ModelSpec]:
    groups = FUSED_MODELS if graph == "fused" else {s.name: (s.name,) for s in STEPS}
    return graph_models(groups)


def run_steps(steps: Sequence[str], resources: Resources, tensors: Mapping[str, npt.NDArray[Any]]) -> Tensors:
    """Run steps in order over a tensor dict (what a fused model and the in-process path do)."""
    out: Tensors = dict(tensors)
    for name in steps:
        out.update(STEP_BY_NAME[name].fn(resources, out))
    return out


def needs(steps: Sequence[str]) -> tuple[str, ...]:
    return _ordered([n for s in steps for n in STEP_BY_NAME[s].needs])
