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


def _venv_stage(stage: str) -> str:
    """The build stage whose venv the image copies (pip's inputs stay out of runtime images)."""
    copies = [i["value"] for i in _stages()[stage] if i["instruction"] == "COPY" and "--from=" in i["value"]]
    sources = [re.search(r"--from=(\S+)", c).group(1) for c in copies if "/opt/recsys" in c]  # type: ignore[union-attr]
    assert sources, f"stage {stage} copies no venv from a build stage"
    return sources[0]


@pytest.mark.parametrize(("stage", "extra"), EXPECTED_STAGES.items())
def test_each_image_installs_exactly_its_pyproject_extra_with_constraints(stage: str, extra: str) -> None:
    runs = " ".join(i["value"] for i in _stages()[_venv_stage(stage)] if i["instruction"] == "RUN")
    installed = re.findall(r"-r /src/requirements/([a-z]+)\.txt", runs)
    assert installed == [extra], f"stage {stage} installs extras {installed}"
    assert extra in _extras()
    for constraint in re.findall(r"-c\s+/src/(\S+)", runs):
        assert (ROOT / constraint).is_file(), f"{constraint} named in stage {stage} does not exist"
    # The project itself goes in last, as the one wheel, without dependencies and offline: the
    # venv's layer does not change with the source.
    final = " ".join(i["value"] for i in _stages()[stage] if i["instruction"] == "RUN")
    assert "pip install -q --no-deps --no-index --no-cache-dir /wheels/*.whl" in final
    assert not re.search(r"pip install[^&;]*\s/src(\s|$)", runs), (
        f"stage {_venv_stage(stage)} installs the source"
    )


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
    runs = " ".join(i["value"] for i in _stages()[_venv_stage("serving")] if i["instruction"] == "RUN")
    assert "constraints/serving.txt" in runs


def test_the_serving_image_takes_triton_from_its_base_or_from_pypi() -> None:
    """`TRITON_FROM=pypi` (the CPU test bed) installs nvidia-pytriton's tree where the base has none."""
    build = " ".join(i["value"] for i in _stages()["serving-venv"] if i["instruction"] == "RUN")
    assert "constraints/triton.txt nvidia-pytriton" in build and 'TRITON_FROM" = pypi' in build
    copies = [i["value"] for i in _stages()["serving"] if i["instruction"] == "COPY"]
    assert any("/opt/triton-from-pypi/ /opt/tritonserver/" in c for c in copies)


@pytest.mark.parametrize("stage", EXPECTED_STAGES)
def test_kopf_and_torch_find_a_login_name_for_any_uid(stage: str) -> None:
    """getpass.getuser() reads $USER first: without it (or a passwd entry) the operator crash-loops."""
    env = " ".join(i["value"] for i in _stages()[stage] if i["instruction"] == "ENV")
    assert re.search(r"\bUSER=\w+", env) and re.search(r"\bHOME=/tmp\b", env)
    uid = next(i["value"] for i in reversed(_stages()[stage]) if i["instruction"] == "USER").split(":")[0]
    runs = " ".join(i["value"] for i in _stages()[stage] if i["instruction"] == "RUN")
    assert f":x:{uid}:" in runs, f"stage {stage} gives uid {uid} no passwd entry"


def test_operator_extra_carries_no_tensorflow_faiss_or_feast() -> None:
    names = {re.split(r"[\[=<>!~ ]", req, maxsplit=1)[0].lower() for req in _extras()["operator"]}
    assert not names & {"tensorflow", "faiss-cpu", "faiss-gpu", "feast", "keras", "torch"}
