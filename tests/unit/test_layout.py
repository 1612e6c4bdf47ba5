"""The layout rules of docs/architecture.md that would otherwise erode silently."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"tensorflow", "keras", "keras_rs", "faiss", "feast", "torch", "onnxruntime"}


def _imported_top_modules(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_operator_source_root_has_no_init_that_would_shadow_the_stdlib() -> None:
    assert not (ROOT / "operator" / "__init__.py").exists()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, '.'); import operator; print(operator.__file__)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert not out.stdout.strip().startswith(str(ROOT))


def test_control_plane_never_imports_training_or_serving_runtimes() -> None:
    offenders = {m: files for m, files in _imported_top_modules(ROOT / "operator").items() if m in HEAVY}
    assert offenders == {}


def _lint_imports(roots: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """import-linter over the three packages found under `roots` (PYTHONPATH wins over the install)."""
    paths = [str(roots / name) for name in ("operator", "workloads", "local")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    command = [str(Path(sys.executable).with_name("lint-imports")), "--config", str(ROOT / "pyproject.toml")]
    command += ["--no-cache", *(arg for c in contracts for arg in ("--contract", c))]
    return subprocess.run(command, cwd=roots, env=env, capture_output=True, text=True)


def test_the_layering_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"Contracts: {len(_importlinter()['contracts'])} kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "operator/recsys_operator/status.py",
            "import recsys_workloads.data.ingest",
            "operator-through-contracts",
        ),
        ("operator/recsys_operator/status.py", "import recsys_local.mode.state", "operator-without-local"),
        ("workloads/recsys_workloads/data/stats.py", "import recsys_operator.status", "data-plane-alone"),
        ("workloads/recsys_workloads/contracts/index.py", "import numpy", "contracts-pure"),
    ],
)
def test_the_layering_check_fails_on_a_bad_import(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    for root in ("operator", "workloads", "local"):
        shutil.copytree(
            ROOT / root, tmp_path / root, ignore=shutil.ignore_patterns("__pycache__", "web", "compiled")
        )
    target = tmp_path / module
    target.write_text(f"{line}  # noqa\n{target.read_text()}")
    assert _lint_imports(tmp_path, broken).returncode != 0
    target.write_text(target.read_text().removeprefix(f"{line}  # noqa\n"))
    assert _lint_imports(tmp_path, broken).returncode == 0  # the same tree without the line holds


def _importlinter() -> dict[str, Any]:
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"])


def test_the_operator_reaches_only_contracts_and_the_three_adapter_clients() -> None:
    """The ignored adapter imports must not drag the data plane in behind them (94 modules before)."""
    import grimp

    graph = grimp.build_graph("recsys_operator", "recsys_workloads")
    reached: set[str] = set()
    for module in {m for m in graph.modules if m.startswith("recsys_operator")}:
        reached |= {m for m in graph.find_upstream_modules(module) if m.startswith("recsys_workloads.")}
    # object_store: the artifact store's S3 client recipe (pipelines.store, behind the runner).
    assert {m for m in reached if not m.startswith("recsys_workloads.contracts")} == {
        "recsys_workloads.object_store",
        "recsys_workloads.online.client",
        "recsys_workloads.pipelines.runner",
        "recsys_workloads.pipelines.store",
        "recsys_workloads.runtime.ports",
        "recsys_workloads.runtime.process",
        "recsys_workloads.serving.triton.rollout",
    }


def test_the_forbidden_lists_name_every_data_plane_package_but_contracts() -> None:
    """A new recsys_workloads package must be forbidden to the operator until it is a contract."""
    package = ROOT / "workloads" / "recsys_workloads"
    found = {
        f"recsys_workloads.{p.stem}"
        for p in package.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())
    }
    contracts = {c["id"]: c for c in _importlinter()["contracts"]}
    for name in ("operator-through-contracts", "contracts-pure"):
        listed = {m for m in contracts[name]["forbidden_modules"] if m.startswith("recsys_workloads.")}
        assert listed == found - {"recsys_workloads.contracts"}, name


SERVING_SIDE = ("serving", "runtime", "online")


def test_serving_side_packages_stay_free_of_tensorflow_and_feast() -> None:
    """Each Triton step is its own process: a TensorFlow import there costs seconds and GBs."""
    folders = [ROOT / "workloads" / "recsys_workloads" / p for p in SERVING_SIDE]
    existing = [f for f in folders if f.exists()]
    assert existing, "no serving-side package found"
    for folder in existing:
        imported = _imported_top_modules(folder)
        assert not {m: f for m, f in imported.items() if m in {"tensorflow", "keras", "feast", "torch"}}


@pytest.mark.parametrize("name", ["main", "serving", "triton"])
def test_every_constraints_line_is_an_exact_pin(name: str) -> None:
    lines = [
        ln
        for ln in (ROOT / "constraints" / f"{name}.txt").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    assert lines
    bad = [ln for ln in lines if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", ln)]
    assert bad == []


@pytest.mark.parametrize("name", ["serving", "triton"])
def test_triton_side_environments_pin_numpy_below_2(name: str) -> None:
    text = (ROOT / "constraints" / f"{name}.txt").read_text()
    match = re.search(r"^numpy==(\d+)\.", text, re.MULTILINE)
    assert match and int(match.group(1)) < 2


def test_operator_imports_without_the_data_planes_heavy_packages() -> None:
    """The operator image has kopf, kubernetes, kfp, redis: no pyarrow, TensorFlow, FAISS or Feast."""
    blocked = ["pyarrow", "tensorflow", "keras", "faiss", "feast", "torch", "pandas", "onnxruntime"]
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "import recsys_operator.handlers, recsys_operator.api.crd\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_workloads_images_front_doors_start_without_the_control_plane() -> None:
    """`recsys api serve` and `recsys events serve` run in the workloads image, which installs the
    `train` extra only: they must not import recsys_operator (croniter, kopf are not there)."""
    code = (
        "import sys\n"
        "sys.modules['recsys_operator'] = None\n"
        "from recsys_local import cli\n"
        "for argv in (['api', 'serve', '--help'], ['events', 'serve', '--help'], ['data', '--help']):\n"
        "    cli.add_control_plane_commands(argv)\n"
        "    try:\n"
        "        cli.app(argv)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, argv\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--config" in result.stdout


def test_the_recsys_command_offers_local_mode_and_the_cluster_when_asked() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "recsys_local.cli", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in ("local", "demo", "cluster", "api", "events"))


def _closure(requirements: list[str]) -> set[str]:
    """Distributions a list of requirements installs, transitively (names normalised)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        for extra in req.extras or {""}:
            for sub in dist.requires or []:
                child = Requirement(sub)
                if child.marker is None or child.marker.evaluate({"extra": extra}):
                    todo.append(child)
    return seen


def test_the_workloads_image_installs_every_package_the_data_plane_imports() -> None:
    """The workloads image installs the base and the `train` extra: a data-plane import from any
    other extra (tritonclient once came only with `operator`) crash-loops its pods."""
    import tomllib
    from importlib import metadata

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    installed = _closure([*project["dependencies"], *project["optional-dependencies"]["train"]])
    provided = {"triton_python_backend_utils", "recsys_workloads", "kfp_server_api"}
    optional = {"matplotlib"}  # evaluation/report.py draws a chart only when it is installed (find_spec)
    provided |= optional
    owners = metadata.packages_distributions()
    missing = {}
    for module, files in _imported_top_modules(ROOT / "workloads").items():
        if module in sys.stdlib_module_names or module in provided:
            continue
        names = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(module, [module])}
        if not names & installed:
            missing[module] = sorted(files)[:3]
    assert missing == {}
