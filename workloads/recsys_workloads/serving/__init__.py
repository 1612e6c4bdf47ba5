"""Request-path steps as plain NumPy functions; Triton `model.py` files only convert tensors.

Runs in the serving venv (numpy 1.26, no TensorFlow, Feast or pyarrow) and in the project
venv (numpy 2), so it imports neither pyarrow nor anything that does.
"""
