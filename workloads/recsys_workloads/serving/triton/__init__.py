"""Triton repository plumbing: the model repository, its generated configs, the step wrapper and client, rollout."""
