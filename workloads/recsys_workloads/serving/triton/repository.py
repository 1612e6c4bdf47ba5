"""Render the `triton_models/` template into a Triton model repository, atomically.

Configs carry `${NAME}` placeholders (e.g. the Valkey address); every placeholder must be
given, so a repository never reaches Triton with a literal `${REDIS_URL}` in it. The
result is written beside `dest` and renamed into place: Triton (or a reader polling the
shared model volume) never sees a half-written repository. `build_version_repository`
renders both homepage graphs for a trained model version and, given a toolchain, loads
the result in a real Triton (canary request included) before it replaces `dest`; given
pinned versions it also renders each one's ensembles beside the current ones
(`contracts.serving.pinned_ensemble`, docs/decisions/0024).
"""

from __future__ import annotations

import re
import shutil
import string
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recsys_workloads.contracts.serving import (
    ENSEMBLE_OF,
    Graph,
    ServingGraphConfig,
    pinned_ensemble,
    pinned_model,
)
from recsys_workloads.folders import swap_into_place
from recsys_workloads.runtime.toolchain import Toolchain, repo_root

CONFIG = "config.pbtxt"
VERSION_BOUND = "${VERSION_DIR}"  # a template config naming it reads the version folder


class RepositoryError(ValueError):
    """The template is incomplete or a placeholder has no value."""


def template_dir() -> Path:
    return repo_root() / "triton_models"


def render_config(text: str, parameters: Mapping[str, str], where: str) -> str:
    try:
        return string.Template(text).substitute(parameters)
    except KeyError as exc:
        raise RepositoryError(f"{where}: placeholder ${{{exc.args[0]}}} has no value") from exc
    except ValueError as exc:
        raise RepositoryError(f"{where}: malformed placeholder: {exc}") from exc


@dataclass(frozen=True)
class RenderedModel:
    """One folder of the rendered repository: template model `source`, written as `name`.

    `steps` renames the models an ensemble's `model_name` entries reference (a pinned copy
    points at its version's steps).
    """

    name: str
    source: str
    parameters: Mapping[str, str]
    steps: Mapping[str, str] = field(default_factory=dict)


def build_repository(
    dest: Path,
    models: Sequence[str],
    parameters: Mapping[str, str],
    template: Path | None = None,
) -> Path:
    """Copy `models` from the template into `dest` with placeholders filled; returns `dest`."""
    return write_repository(dest, [RenderedModel(m, m, parameters) for m in models], template)


def write_repository(dest: Path, models: Sequence[RenderedModel], template: Path | None = None) -> Path:
    """Render `models` into `dest` (staged beside it, renamed into place); returns `dest`."""
    template = template or template_dir()
    missing = [m.source for m in models if not (template / m.source / CONFIG).is_file()]
    if missing:
        raise RepositoryError(f"models {missing} have no {CONFIG} under {template}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        for model in models:
            shutil.copytree(
                template / model.source,
                staging / model.name,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
            config = staging / model.name / CONFIG
            where = f"{model.name}/{CONFIG}"
            text = render_config(config.read_text(), model.parameters, where)
            config.write_text(renamed(text, model, where))
        swap_into_place(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def renamed(text: str, model: RenderedModel, where: str) -> str:
    """`text` with its `name:` set to `model.name` and the `model.steps` references renamed.

    Triton refuses a config whose name differs from its folder, and a rename that misses its
    target would silently leave a pinned ensemble on the current version's step.
    """
    if model.name != model.source:
        pattern = rf'^name: "{re.escape(model.source)}"$'
        text, found = re.subn(pattern, f'name: "{model.name}"', text, flags=re.MULTILINE)
        if found != 1:
            raise RepositoryError(f'{where}: expected one line name: "{model.source}", found {found}')
    for step, new in model.steps.items():
        pattern = rf'\bmodel_name: "{re.escape(step)}"'
        text, found = re.subn(pattern, f'model_name: "{new}"', text)
        if not found:
            raise RepositoryError(f"{where}: no step references {step} to point at {new}")
    return text


def version_parameters(version_dir: Path, redis_url: str, config: ServingGraphConfig) -> dict[str, str]:
    """Placeholder values of the homepage graphs for one trained model version."""
    return {
        "VERSION_DIR": str(Path(version_dir).resolve()),
        "REDIS_URL": redis_url,
        "SERVING_CONFIG": pbtxt_string(config.model_dump_json(by_alias=True)),
    }


def pbtxt_string(value: str) -> str:
    """`value` escaped to sit inside a double-quoted protobuf text-format string."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def check_version(version_dir: Path) -> None:
    """The artifacts the steps read must exist before Triton is asked to load anything."""
    from recsys_workloads.models import artifacts

    needed = [
        Path(artifacts.TRANSFORMS_DIR) / "transforms.json",
        Path(artifacts.ITEMS_FILE),
        Path(artifacts.INDEX_DIR) / "items.faiss",
        Path(artifacts.EXPORT_DIR) / artifacts.QUERY_TOWER_ONNX,
        Path(artifacts.EXPORT_DIR) / artifacts.DLRM_ONNX,
    ]
    missing = [str(p) for p in needed if not (version_dir / p).is_file()]
    if missing:
        raise RepositoryError(f"model version {version_dir} lacks {missing} (run export_version first?)")


def validate_repository(
    repository: Path, toolchain: Toolchain, ensembles: Sequence[str], workdir: Path
) -> None:
    """Load `ensembles` (and so every step) in a real Triton and send each a canary request."""
    from recsys_workloads.runtime.process import ServerStartError
    from recsys_workloads.runtime.triton_server import TritonServer
    from recsys_workloads.serving.recommender import RecommendationRequest
    from recsys_workloads.serving.triton.client import TritonRecommender, TritonUnavailableError

    workdir.mkdir(parents=True, exist_ok=True)
    server = TritonServer(toolchain, repository, workdir, model_control="explicit", load_models=ensembles)
    try:
        server.start()
        for ensemble in ensembles:
            client = TritonRecommender(server.grpc_url, ensemble, timeout_s=30.0)
            try:
                answer = client.recommend(RecommendationRequest(num_items=5))
            finally:
                client.close()
            if not answer.item_ids:
                raise RepositoryError(f"{ensemble}: the canary request got no items")
    except (ServerStartError, TritonUnavailableError) as exc:
        raise RepositoryError(f"repository {repository} failed validation: {exc}") from exc
    finally:
        server.stop()


def version_bound(model: str, template: Path | None = None) -> bool:
    """Whether `model` reads the version folder (so a pinned version needs its own copy)."""
    return VERSION_BOUND in ((template or template_dir()) / model / CONFIG).read_text()


def pinned_models(
    version: int, parameters: Mapping[str, str], graphs: Sequence[Graph], template: Path | None = None
) -> list[RenderedModel]:
    """Pinned `version`'s ensembles and their version-bound steps; the other steps are shared."""
    from recsys_workloads.serving.triton.templates import graph_model_names

    models: list[RenderedModel] = []
    for graph in graphs:
        steps = graph_model_names(graph)[:-1]
        names = {s: pinned_model(s, version) for s in steps if version_bound(s, template)}
        models += [RenderedModel(name, step, parameters) for step, name in names.items()]
        models.append(RenderedModel(pinned_ensemble(graph, version), ENSEMBLE_OF[graph], parameters, names))
    return list({m.name: m for m in models}.values())


def build_version_repository(
    version_dir: Path,
    dest: Path,
    redis_url: str,
    graphs: Sequence[Graph] = ("ensemble", "fused"),
    config: ServingGraphConfig | None = None,
    toolchain: Toolchain | None = None,
    template: Path | None = None,
    pinned: Mapping[int, Path] | None = None,
) -> Path:
    """Write the homepage graphs (and the popularity path) for `version_dir` into `dest`.

    `pinned` (version number -> its folder) adds, per version and graph, the ensemble
    `pinned_ensemble(graph, N)` on that folder. With a `toolchain`, the candidate repository
    is first loaded in a real Triton and every ensemble (pinned ones included) answers a
    canary request; only then does it replace `dest` (atomically), so a broken version never
    becomes the repository in place. Returns `dest`.
    """
    from recsys_workloads.serving.triton.templates import POPULAR_PATH, graph_model_names

    version_dir = Path(version_dir)
    pinned = dict(sorted((pinned or {}).items()))
    for folder in [version_dir, *pinned.values()]:
        check_version(Path(folder))
    config = config or ServingGraphConfig()
    names = list(POPULAR_PATH)
    for graph in graphs:
        names += graph_model_names(graph)
    parameters = version_parameters(version_dir, redis_url, config)
    models = [RenderedModel(name, name, parameters) for name in dict.fromkeys(names)]
    for number, folder in pinned.items():
        models += pinned_models(number, version_parameters(Path(folder), redis_url, config), graphs, template)
    if toolchain is None:
        return write_repository(dest, models, template)
    candidate = write_repository(dest.with_name(f".{dest.name}-candidate"), models, template)
    try:
        ensembles: list[str] = [ENSEMBLE_OF[g] for g in graphs]
        ensembles += [pinned_ensemble(g, n) for n in pinned for g in graphs]
        validate_repository(candidate, toolchain, ensembles, dest.parent / f".{dest.name}-validation")
        swap_into_place(candidate, dest)
    finally:
        shutil.rmtree(candidate, ignore_errors=True)
    return dest
