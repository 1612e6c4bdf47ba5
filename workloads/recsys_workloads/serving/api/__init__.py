"""The recommendation API (FastAPI) in front of Triton, and the demo page it serves."""
