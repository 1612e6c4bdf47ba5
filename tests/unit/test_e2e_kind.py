"""The kind e2e cannot run here (no Docker): keep its script and workflow consistent instead.

What kind would catch is covered by running the same test module on the loopback server;
these checks keep the wiring around it (image names, paths, the env var) from drifting.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "e2e" / "kind.sh"
WORKFLOW = ROOT / ".github" / "workflows" / "e2e-kind.yaml"
SHARED_TESTS = ROOT / "tests" / "integration" / "kube" / "test_system.py"


def _workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _steps() -> list[dict[str, Any]]:
    return list(_workflow()["jobs"]["kind"]["steps"])


def test_the_script_is_valid_bash() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    done = subprocess.run([bash, "-n", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_workflow_runs_the_script_on_pull_requests_and_main() -> None:
    workflow = _workflow()
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert {"pull_request", "push", "workflow_dispatch"} <= set(triggers)
    runs = [step.get("run", "") for step in _steps()]
    assert "bash scripts/e2e/kind.sh" in runs
    assert workflow["jobs"]["kind"]["timeout-minutes"] <= 60


def test_a_change_to_the_shared_tests_or_the_operator_triggers_the_workflow() -> None:
    paths = _workflow()[True]["pull_request"]["paths"]
    for changed in (SHARED_TESTS, SCRIPT, WORKFLOW, ROOT / "deploy" / "base" / "rbac.yaml"):
        relative = changed.relative_to(ROOT).as_posix()
        assert any(Path(relative).match(p) or relative.startswith(p.removesuffix("**")) for p in paths), (
            relative
        )


def test_the_workflow_python_is_one_the_project_supports() -> None:
    (setup,) = [s for s in _steps() if str(s.get("uses", "")).startswith("actions/setup-python")]
    minor = int(str(setup["with"]["python-version"]).split(".")[1])
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    low, high = (int(v) for v in re.findall(r"3\.(\d+)", requires))
    assert low <= minor < high


def test_the_script_runs_the_shared_test_module_with_its_kubeconfig_variable() -> None:
    script = SCRIPT.read_text()
    variable = re.search(r'EXTERNAL_ENV = "([A-Z_0-9]+)"', SHARED_TESTS.read_text())
    assert variable is not None
    assert f'{variable.group(1)}="$KUBECONFIG"' in script
    assert str(SHARED_TESTS.relative_to(ROOT)) in script


def test_the_image_the_script_loads_is_the_one_deploy_base_runs() -> None:
    kustomization = yaml.safe_load((ROOT / "deploy" / "base" / "kustomization.yaml").read_text())
    (image,) = [i for i in kustomization["images"] if i["name"] == "recsys-operator"]
    script = SCRIPT.read_text()
    assert f"OPERATOR_IMAGE={image['newName']}:{image['newTag']}" in script
    assert 'docker build --target operator -t "$OPERATOR_IMAGE"' in script
    assert re.search(r"^FROM \S+ AS operator$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)


def test_the_script_waits_on_the_sample_the_samples_folder_holds() -> None:
    sample = yaml.safe_load(
        (ROOT / "deploy" / "samples" / "recsys_v1alpha1_recommendersystem.yaml").read_text()
    )
    assert f"recommendersystem/{sample['metadata']['name']}" in SCRIPT.read_text()


def test_the_shared_tests_import_with_only_what_the_workflow_installs() -> None:
    """The workflow installs the operator extra and pytest: no training or serving packages."""
    blocked = ["pyarrow", "tensorflow", "keras", "faiss", "feast", "torch", "pandas", "onnxruntime"]
    blocked += ["fastapi", "uvicorn", "lupa", "fakeredis", "moto", "dockerfile_parse"]
    # Imported as packages, the way pytest's importlib mode does, so relative imports resolve.
    paths = [ROOT / "tests" / "conftest.py", SHARED_TESTS.parent / "conftest.py", SHARED_TESTS]
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in paths]
    code = (
        "import importlib, sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
