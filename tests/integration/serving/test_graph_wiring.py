"""Both homepage graphs, wired as Triton wires them, answer identically, sampling included.

Each model sees only the tensors its config declares as inputs and passes on only its declared
outputs (what the ensemble's input_map/output_map carry), so a tensor that a later step reads
but no model declares breaks one graph here as it would in Triton. Softmax sampling
(temperature > 0) and the category cap are on: the same request must draw the same homepage
through 14 models, 3 models and the in-process path.
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys_workloads.contracts.serving import ServingGraphConfig
from recsys_workloads.serving.graph import RESPONSE_OUTPUTS, Tensors, ensemble_models, run_steps
from recsys_workloads.serving.recommender import RecommendationRequest, Recommender, request_tensors
from recsys_workloads.serving.resources import Resources

from .conftest import Stack

SAMPLING = ServingGraphConfig(temperature=0.7, category_cap=2, ranking_top_k=40)


def _as_wired(graph: str, resources: Resources, request: Tensors) -> Tensors:
    tensors = dict(request)
    for model in ensemble_models(graph):
        out = run_steps(model.steps, resources, {name: tensors[name] for name in model.inputs})
        tensors.update({name: out[name] for name in model.outputs})
    return {name: tensors[name] for name in RESPONSE_OUTPUTS}


@pytest.mark.parametrize("user", ["", "anon-w1", "new-visitor", "known"])
def test_the_14_step_and_fused_wirings_draw_the_same_sampled_homepage(
    homepage_stack: Stack, user: str
) -> None:
    resources = Resources(homepage_stack.version, homepage_stack.store.url, SAMPLING)
    if user == "known":
        user = str(resources.transforms.vocabularies["user_id"].values[0])
    reference = Recommender(homepage_stack.version, homepage_stack.store.url, SAMPLING)
    drawn = set()
    for timestamp in (1_763_800_000, 1_763_800_001, 1_763_803_600):
        request = request_tensors(RecommendationRequest(user, "web", timestamp, 8))
        ensemble, fused = _as_wired("ensemble", resources, request), _as_wired("fused", resources, request)
        in_process = reference.run(request)
        for name in RESPONSE_OUTPUTS:
            np.testing.assert_array_equal(ensemble[name], fused[name], err_msg=name)
            np.testing.assert_array_equal(ensemble[name], in_process[name], err_msg=name)
        drawn.add(tuple(ensemble["ITEM_IDS"].tolist()))
    assert len(drawn) > 1  # sampling is on: other request times draw other homepages
