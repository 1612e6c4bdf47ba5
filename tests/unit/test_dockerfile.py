"""The Dockerfile cannot be built here; keep its stages consistent with pyproject instead."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_STAGES = {"operator": "operator", "workloads": "train", "serving": "serve"}


def _stages() -> dict[str, list[dict[str, str]]]:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    stages: dict[str, list[dict[str, str]]] = {}
    current = None  # global ARGs before the first FROM belong to no stage
    for instr in parser.structure:
        if instr["instruction"] == "FROM":
            match = re.search(r"\bAS\s+(\S+)", instr["value"], re.IGNORECASE)
            current = match.group(1) if match else instr["value"]
            stages[current] = []
        if current is not None:
            stages[current].append(instr)
    return stages


def _extras() -> dict[str, list[str]]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return dict(pyproject["project"]["optional-dependencies"])


def test_dockerfile_has_the_three_product_images() -> None:
    assert set(EXPECTED_STAGES) <= set(_stages())


@pytest.mark.parametrize(("stage", "extra"), EXPECTED_STAGES.items())
def test_each_image_installs_exactly_its_pyproject_extra_with_constraints(stage: str, extra: str) -> None:
    runs = " ".join(i["value"] for i in _stages()[stage] if i["instruction"] == "RUN")
    installed = re.findall(r'"/src\[([a-z,]+)\]"', runs)
    assert installed == [extra], f"stage {stage} installs extras {installed}"
    assert extra in _extras()
    for constraint in re.findall(r"-c\s+/src/(\S+)", runs):
        assert (ROOT / constraint).is_file(), f"{constraint} named in stage {stage} does not exist"


@pytest.mark.parametrize("stage", EXPECTED_STAGES)
def test_each_image_runs_as_a_non_root_user(stage: str) -> None:
    users = [i["value"].strip() for i in _stages()[stage] if i["instruction"] == "USER"]
    assert users, f"stage {stage} sets no USER"
    assert users[-1].split(":")[0] not in {"0", "root"}


def test_serving_image_is_tritons_and_puts_the_serving_venv_first_on_path() -> None:
    serving = _stages()["serving"]
    assert "TRITON_IMAGE" in serving[0]["value"]
    env = " ".join(i["value"] for i in serving if i["instruction"] == "ENV")
    assert re.search(r"PATH=/opt/recsys-serving/bin:", env)
    runs = " ".join(i["value"] for i in serving if i["instruction"] == "RUN")
    assert "constraints/serving.txt" in runs


def test_operator_extra_carries_no_tensorflow_faiss_or_feast() -> None:
    names = {re.split(r"[\[=<>!~ ]", req, maxsplit=1)[0].lower() for req in _extras()["operator"]}
    assert not names & {"tensorflow", "faiss-cpu", "faiss-gpu", "feast", "keras", "torch"}
