"""What every step's model.py delegates to: parameters and tensor names from Triton's config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.contracts.serving import ServingGraphConfig
from recsys_workloads.serving.triton.repository import CONFIG, render_config, template_dir, version_parameters
from recsys_workloads.serving.triton.step import load_step, parameters, serving_config


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


def test_every_serving_knob_survives_the_rendered_config_as_triton_parses_it(tmp_path: Path) -> None:
    """Spec -> placeholders -> config.pbtxt -> (protobuf text format, as Triton reads it) -> step."""
    from google.protobuf import json_format, text_format
    from tritonclient.grpc import model_config_pb2

    wanted = ServingGraphConfig(
        retrieval_top_k=77,
        ranking_top_k=33,
        category_cap=4,
        temperature=0.25,
        nprobe=7,
        ef_search=99,
        seen_filter=SeenFilterConfig(window_days=3, capacity=20_000, error_rate=0.02, backend="bitmap"),
        graph="fused",
    )
    assert wanted != ServingGraphConfig()
    text = render_config(
        (template_dir() / "filter_seen_items" / CONFIG).read_text(),
        version_parameters(tmp_path, "redis://127.0.0.1:1/0", wanted),
        "filter_seen_items",
    )
    parsed = text_format.Parse(text, model_config_pb2.ModelConfig())
    as_triton_passes_it = json_format.MessageToDict(parsed, preserving_proto_field_name=True)
    got = serving_config(parameters(as_triton_passes_it))
    assert got == wanted
