"""Fitted preprocessing shared by training and serving.

`transform` and `vocabulary` are pure NumPy (they run inside Triton's numpy<2 serving
venv); `fit` and `history` read the canonical dataset with pyarrow and run only in training.
"""
