"""gRPC client of the homepage ensembles (the API, the repository canary and the benchmark)."""

from __future__ import annotations

from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as aioclient

from recsys_workloads.contracts.serving import ENSEMBLE
from recsys_workloads.serving.recommender import (
    Recommendation,
    RecommendationRequest,
    request_tensors,
    response_from_tensors,
)

_TRITON_TYPES = {np.dtype(np.object_): "BYTES", np.dtype(np.int64): "INT64", np.dtype(np.int32): "INT32"}
OUTPUTS = ("ITEM_IDS", "SCORES", "COLD_START", "FILTER_SKIPPED")


class TritonUnavailableError(RuntimeError):
    """Triton did not answer in time or answered with an error."""


def _inputs(request: RecommendationRequest) -> list[grpcclient.InferInput]:
    inputs = []
    for name, value in request_tensors(request).items():
        tensor = grpcclient.InferInput(name, list(value.shape), _TRITON_TYPES[value.dtype])
        tensor.set_data_from_numpy(value)
        inputs.append(tensor)
    return inputs


def _outputs() -> list[grpcclient.InferRequestedOutput]:
    return [grpcclient.InferRequestedOutput(n) for n in OUTPUTS]


def _recommendation(result: Any) -> Recommendation:
    return response_from_tensors({n: result.as_numpy(n) for n in OUTPUTS})


class TritonRecommender:
    """Blocking client: one keep-alive channel per instance."""

    def __init__(self, url: str, model: str = ENSEMBLE, timeout_s: float = 1.0) -> None:
        self.client = grpcclient.InferenceServerClient(url)
        self.model = model
        self.timeout_s = timeout_s
        # The outcome of the last call (None: no call yet), for probes that must not call Triton.
        self.last_answered: bool | None = None

    def recommend(self, request: RecommendationRequest) -> Recommendation:
        try:
            result: Any = self.client.infer(
                self.model, _inputs(request), outputs=_outputs(), client_timeout=self.timeout_s
            )
        except Exception as exc:  # InferenceServerException: unreachable, timeout, step error
            self.last_answered = False
            raise TritonUnavailableError(f"{self.model}: {exc}") from exc
        self.last_answered = True
        return _recommendation(result)

    def close(self) -> None:
        self.client.close()


class AsyncTritonRecommender:
    """The API's client: awaited on the event loop, so a homepage costs no threadpool hop.

    The aio channel is opened on first use, inside the loop that serves requests.
    """

    def __init__(self, url: str, model: str = ENSEMBLE, timeout_s: float = 1.0) -> None:
        self.url, self.model, self.timeout_s = url, model, timeout_s
        self._client: aioclient.InferenceServerClient | None = None
        self.last_answered: bool | None = None

    async def recommend(
        self, request: RecommendationRequest, model: str | None = None, track: bool = True
    ) -> Recommendation:
        """`model`: another ensemble than the default (an experiment arm's); `track`: the outcome
        is `last_answered` (a shadow call's is not: it never serves anyone)."""
        if self._client is None:
            self._client = aioclient.InferenceServerClient(self.url)
        model = model or self.model
        try:
            result: Any = await self._client.infer(
                model, _inputs(request), outputs=_outputs(), client_timeout=self.timeout_s
            )
        except Exception as exc:  # InferenceServerException: unreachable, timeout, step error
            if track:
                self.last_answered = False
            raise TritonUnavailableError(f"{model}: {exc}") from exc
        if track:
            self.last_answered = True
        return _recommendation(result)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
