"""What every `triton_models/*/1/model.py` delegates to: parameters in, a step runner out.

A model's config names the steps it runs (`steps`, comma-separated) and the model version
(`version_dir`), Valkey (`redis_url`) and tuning parameters; `model.py` only turns Triton
tensors into NumPy and back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy.typing as npt

from recsys_workloads.contracts.serving import ServingGraphConfig
from recsys_workloads.serving.graph import STEP_BY_NAME, Tensors, needs, run_steps
from recsys_workloads.serving.resources import Resources


class StepRunner:
    """Runs `steps` in order; reads `input_names`, returns `output_names` (the config's tensors)."""

    def __init__(
        self,
        steps: tuple[str, ...],
        resources: Resources,
        input_names: Sequence[str],
        output_names: Sequence[str],
    ) -> None:
        unknown = [s for s in steps if s not in STEP_BY_NAME]
        if unknown:
            raise ValueError(f"unknown steps {unknown}; known: {sorted(STEP_BY_NAME)}")
        self.steps = steps
        self.input_names = tuple(input_names)
        self.output_names = tuple(output_names)
        self.resources = resources
        resources.warm(needs(steps))

    def __call__(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Tensors:
        out = run_steps(self.steps, self.resources, inputs)
        return {name: out[name] for name in self.output_names}


def parameters(model_config: Mapping[str, Any]) -> dict[str, str]:
    params = model_config.get("parameters") or {}
    return {k: str(v.get("string_value", "")) for k, v in params.items()}


def serving_config(p: Mapping[str, str]) -> ServingGraphConfig:
    """The inverse of `repository.version_parameters` (missing keys: the defaults)."""
    return ServingGraphConfig.model_validate_json(p.get("serving_config") or "{}")


def load_step(model_config: Mapping[str, Any] | str) -> StepRunner:
    """A runner for the model whose (JSON) config Triton passes to `initialize`."""
    config = json.loads(model_config) if isinstance(model_config, str) else model_config
    p = parameters(config)
    steps = tuple(s.strip() for s in p["steps"].split(",") if s.strip())
    resources = Resources(Path(p.get("version_dir", "")), p.get("redis_url", ""), serving_config(p))
    names = (
        [str(t["name"]) for t in config.get("input", [])],
        [str(t["name"]) for t in config.get("output", [])],
    )
    return StepRunner(steps, resources, *names)
