"""Triton wrapper of recsys_workloads.serving.context.preprocess_context (tensors in, tensors out)."""

import time

import numpy as np
import triton_python_backend_utils as pb_utils

from recsys_workloads.serving.context import preprocess_context


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            ts = pb_utils.get_input_tensor_by_name(request, "TIMESTAMP").as_numpy()
            raw = pb_utils.get_input_tensor_by_name(request, "DEVICE").as_numpy().reshape(-1)
            devices = [d.decode() if isinstance(d, bytes) else str(d) for d in raw]
            filled, names = preprocess_context(ts.reshape(-1), devices, now=int(time.time()))
            responses.append(
                pb_utils.InferenceResponse(
                    [
                        pb_utils.Tensor("TIMESTAMP_FILLED", filled.reshape(ts.shape)),
                        pb_utils.Tensor("DEVICE_NAME", np.array([n.encode() for n in names], dtype=np.object_)),
                    ]
                )
            )
        return responses
