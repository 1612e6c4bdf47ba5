"""Offline evaluation: metrics, baselines (popularity, oracle) and the report."""
