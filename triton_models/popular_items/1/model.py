"""Triton wrapper of recsys_workloads.serving.popular.recommend_popular."""

import json
import time

import numpy as np
import triton_python_backend_utils as pb_utils

from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import make_seen_filter
from recsys_workloads.serving.popular import recommend_popular

DEFAULT_SIZE = 1000


class TritonPythonModel:
    def initialize(self, args):
        params = json.loads(args["model_config"])["parameters"]
        client = connect(params["redis_url"]["string_value"])
        self.popularity = Popularity(client)
        self.seen_filter = make_seen_filter(client)
        # Served, flagged, when Valkey is down later; empty if it is down already.
        self.default = self.popularity.top_or_default(DEFAULT_SIZE, time.time()).items

    def execute(self, requests):
        responses = []
        for request in requests:
            user = pb_utils.get_input_tensor_by_name(request, "USER_ID").as_numpy().reshape(-1)[0]
            at = pb_utils.get_input_tensor_by_name(request, "TIMESTAMP").as_numpy().reshape(-1)[0]
            k = pb_utils.get_input_tensor_by_name(request, "NUM_ITEMS").as_numpy().reshape(-1)[0]
            user_id = user.decode() if isinstance(user, bytes) else str(user)
            recs = recommend_popular(
                self.popularity, self.seen_filter, user_id, float(at), int(k), default=self.default
            )
            responses.append(
                pb_utils.InferenceResponse(
                    [
                        pb_utils.Tensor("ITEM_IDS", np.array([i.encode() for i in recs.item_ids], dtype=np.object_)),
                        pb_utils.Tensor("SCORES", recs.scores.astype(np.float32)),
                        pb_utils.Tensor("FILTER_SKIPPED", np.array([recs.filter_skipped], dtype=np.bool_)),
                    ]
                )
            )
        return responses
