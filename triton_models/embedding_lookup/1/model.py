"""Triton wrapper of recsys_workloads.serving steps: tensors in, the step functions, tensors out."""

import json

import triton_python_backend_utils as pb_utils

from recsys_workloads.serving.triton.step import load_step


class TritonPythonModel:
    def initialize(self, args):
        self.runner = load_step(json.loads(args["model_config"]))

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                inputs = {
                    name: pb_utils.get_input_tensor_by_name(request, name).as_numpy()
                    for name in self.runner.input_names
                }
                outputs = self.runner(inputs)
                tensors = [pb_utils.Tensor(name, value) for name, value in outputs.items()]
                responses.append(pb_utils.InferenceResponse(tensors))
            except Exception as exc:  # an answer per request: the ensemble fails, the API falls back
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(repr(exc))))
        return responses
