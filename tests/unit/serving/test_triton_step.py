"""What every step's model.py delegates to: parameters and tensor names from Triton's config."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys_workloads.serving.triton_step import load_step


def _config(steps: str, inputs: list[str], outputs: list[str]) -> str:
    """The JSON shape Triton hands to `initialize` as args["model_config"]."""
    return json.dumps(
        {
            "name": "m",
            "input": [{"name": n} for n in inputs],
            "output": [{"name": n} for n in outputs],
            "parameters": {"steps": {"string_value": steps}, "version_dir": {"string_value": "/nowhere"}},
        }
    )


def test_a_multi_step_model_returns_only_its_declared_outputs() -> None:
    runner = load_step(_config("context_preprocessor", ["TIMESTAMP", "DEVICE"], ["DEVICE_NAME"]))
    out = runner(
        {"TIMESTAMP": np.array([0], dtype=np.int64), "DEVICE": np.array([b"Tablet"], dtype=np.object_)}
    )
    assert list(out) == ["DEVICE_NAME"]
    assert out["DEVICE_NAME"].tolist() == [b"unknown"]


def test_an_unknown_step_name_fails_at_initialize() -> None:
    with pytest.raises(ValueError, match="unknown steps"):
        load_step(_config("context_preprocessor,nope", [], []))
