"""Render the `triton_models/` template into a Triton model repository, atomically.

Configs carry `${NAME}` placeholders (e.g. the Valkey address); every placeholder must be
given, so a repository never reaches Triton with a literal `${REDIS_URL}` in it. The
result is written beside `dest` and renamed into place: Triton (or a reader polling the
shared model volume) never sees a half-written repository. `build_version_repository`
renders both homepage graphs for a trained model version and, given a toolchain, loads
the result in a real Triton (canary request included) before it replaces `dest`.
"""

from __future__ import annotations

import shutil
import string
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from recsys_workloads.contracts.serving import ENSEMBLE_OF, Graph, ServingGraphConfig
from recsys_workloads.folders import swap_into_place
from recsys_workloads.runtime.toolchain import Toolchain, repo_root

CONFIG = "config.pbtxt"


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


def build_repository(
    dest: Path,
    models: Sequence[str],
    parameters: Mapping[str, str],
    template: Path | None = None,
) -> Path:
    """Copy `models` from the template into `dest` with placeholders filled; returns `dest`."""
    template = template or template_dir()
    missing = [m for m in models if not (template / m / CONFIG).is_file()]
    if missing:
        raise RepositoryError(f"models {missing} have no {CONFIG} under {template}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        for model in models:
            shutil.copytree(
                template / model, staging / model, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
            config = staging / model / CONFIG
            config.write_text(render_config(config.read_text(), parameters, f"{model}/{CONFIG}"))
        swap_into_place(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


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


def build_version_repository(
    version_dir: Path,
    dest: Path,
    redis_url: str,
    graphs: Sequence[Graph] = ("ensemble", "fused"),
    config: ServingGraphConfig | None = None,
    toolchain: Toolchain | None = None,
    template: Path | None = None,
) -> Path:
    """Write the homepage graphs (and the popularity path) for `version_dir` into `dest`.

    With a `toolchain`, the candidate repository is first loaded in a real Triton and
    answered a canary request; only then does it replace `dest` (atomically), so a broken
    version never becomes the repository in place. Returns `dest`.
    """
    from recsys_workloads.serving.triton.templates import POPULAR_PATH, graph_model_names

    version_dir = Path(version_dir)
    check_version(version_dir)
    models = list(POPULAR_PATH)
    for graph in graphs:
        models += graph_model_names(graph)
    models = list(dict.fromkeys(models))
    parameters = version_parameters(version_dir, redis_url, config or ServingGraphConfig())
    if toolchain is None:
        return build_repository(dest, models, parameters, template)
    candidate = build_repository(dest.with_name(f".{dest.name}-candidate"), models, parameters, template)
    try:
        ensembles = [ENSEMBLE_OF[g] for g in graphs]
        validate_repository(candidate, toolchain, ensembles, dest.parent / f".{dest.name}-validation")
        swap_into_place(candidate, dest)
    finally:
        shutil.rmtree(candidate, ignore_errors=True)
    return dest
