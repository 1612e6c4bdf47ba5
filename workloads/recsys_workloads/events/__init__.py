"""The event service: accepts interactions, updates online state at once, logs them for training."""
