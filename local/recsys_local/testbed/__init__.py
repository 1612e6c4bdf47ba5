"""Test support for the operator: a real Kubernetes API server on loopback (no Docker needed)."""
