"""Reconcile logic between kopf's wiring and the adapters: spec in, applied objects and status out."""
