"""Retrieval index configuration (part of `RecommenderSystem.spec.retrieval`)."""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import Field, model_validator

from recsys_workloads.contracts.spec import Grammar, SpecModel

MAX_TOP_K: Final = 10_000  # candidates per request the serving steps are sized for

# The faiss.index_factory components this project documents and tests against FAISS
# (tests/unit/models/test_configs_index_embeddings.py): transforms, coarse quantizers, encodings,
# refinement. A string of them can still be ordered in a way FAISS refuses; the index step then
# fails with FAISS's own message, but typos and unknown components stop at `kubectl apply`.
_FACTORY_COMPONENT = (
    r"(PCAW?R?[0-9]+|OPQ[0-9]+(_[0-9]+)?|RR[0-9]+|L2norm|ITQ[0-9]*|IDMap2?|Flat|IVF[0-9]+(_HNSW[0-9]+)?"
    r"|IMI2x[0-9]+|HNSW[0-9]+(_(Flat|PQ[0-9]+|SQ[0-9]+|SQfp16))?|NSG[0-9]+|LSHr?t?"
    r"|PQ[0-9]+(x[0-9]+)?(fs|fsr|np)?|SQ(4|6|8|fp16|bf16|8_direct)|RQ[0-9]+x[0-9]+|LSQ[0-9]+x[0-9]+|RFlat)"
)
FACTORY_PATTERN: Final = rf"^{_FACTORY_COMPONENT}(,{_FACTORY_COMPONENT})*$"
IndexFactory = Annotated[
    str,
    Grammar(
        FACTORY_PATTERN, "a faiss.index_factory string (Flat, IVF1024,Flat, HNSW32, IVF4096,PQ32 ...)", 256
    ),
]
_IVF_LISTS = re.compile(r"IVF([0-9]+)")


def ivf_lists(factory: str) -> int | None:
    """The number of inverted lists an IVF factory string asks for (None: not an IVF index)."""
    found = _IVF_LISTS.search(factory)
    return int(found.group(1)) if found else None


class IndexConfig(SpecModel):
    """FAISS retrieval of candidates for the query embedding."""

    factory: IndexFactory = Field(
        "Flat",
        description="faiss.index_factory string: Flat (exact), IVF1024,Flat, HNSW32, IVF4096,PQ32 ... "
        "(the index is built by a TrainingRun: a change takes effect at the next one)",
    )
    metric: Literal["inner_product", "l2"] = Field(
        "inner_product",
        description="similarity of the two towers (built into the index: takes effect at the next TrainingRun)",
    )
    top_k: int = Field(300, ge=1, le=MAX_TOP_K, description="candidates retrieved per request")
    nprobe: int = Field(
        16,
        ge=1,
        description="IVF lists visited per query (all of them when above the list count); "
        "applied when Triton loads a version, no retraining",
    )
    ef_search: int = Field(
        128,
        ge=1,
        description="HNSW search breadth, raised to the candidates asked for when below them; "
        "applied when Triton loads a version, no retraining",
    )

    @model_validator(mode="after")
    def _some_lists(self) -> IndexConfig:
        # nprobe above the list count is harmless (FAISS visits every list), so it is not refused.
        if ivf_lists(self.factory) == 0:
            raise ValueError(f"factory {self.factory!r} asks for 0 IVF lists")
        return self
