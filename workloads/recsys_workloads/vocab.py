"""Vocabularies shared by data, training and serving, in a module free of pyarrow.

The serving venv (numpy 1.26 for Triton's Python backend) has no pyarrow, so these
constants cannot live only beside the Arrow schemas in `recsys_workloads.data.schema`.
"""

from __future__ import annotations

from typing import Final

DEVICE_TYPES: Final[tuple[str, ...]] = ("web", "ios", "android")
UNKNOWN_DEVICE: Final = "unknown"
ANONYMOUS_PREFIX: Final = "anon-"
