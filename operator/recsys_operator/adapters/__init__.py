"""Thin I/O adapters: Kubernetes, KFP, Triton's repository API, Valkey, AWS."""
