"""Two-tower retrieval, DLRM ranking, fine-tuning and export.

Importing this package imports no TensorFlow: `config` and `onnx_runner` are used by the
operator and the serving venv; the Keras modules are imported explicitly by training.
TensorFlow's C++ logging is quietened here, before any Keras module of the package loads.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
