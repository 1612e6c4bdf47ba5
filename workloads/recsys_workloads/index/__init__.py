"""FAISS item index: built in training, loaded by the retrieval step (serving venv safe)."""
