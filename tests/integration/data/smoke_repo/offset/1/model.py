import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """Adds one, and reports which numpy the stub runs (it must be the serving venv's, < 2)."""

    def execute(self, requests):
        responses = []
        version = np.array([np.__version__.encode()], dtype=np.object_)
        for request in requests:
            y = pb_utils.get_input_tensor_by_name(request, "Y").as_numpy()
            outputs = [
                pb_utils.Tensor("Z", (y + 1).astype(np.float32)),
                pb_utils.Tensor("NUMPY_VERSION", version),
            ]
            responses.append(pb_utils.InferenceResponse(outputs))
        return responses
