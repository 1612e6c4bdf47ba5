"""Data plane inputs: a synthetic shop with ground truth, and ingestion of real layouts.

See docs/data.md for the layouts, the canonical dataset and the conventions.
"""
