"""Local mode's pure parts: the spec file, local defaults, the state file and the local cluster."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from recsys_local.mode.cluster import LocalCluster
from recsys_local.mode.state import LocalState, LocalStateError, load, locked, save
from recsys_local.mode.system import LocalModeError, local_guard, localize, read_spec_file
from recsys_operator.manifests import triton
from recsys_operator.manifests.common import Owner
from recsys_operator.reconcilers.recommender_system import reconcile
from recsys_workloads.contracts.access import AccessEnv, AuthSpec, RateLimitConfig
from recsys_workloads.runtime.toolchain import repo_root

EXAMPLE = repo_root() / "examples" / "homepage.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def _with_spec(tmp_path: Path, spec: dict[str, object]) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"] = spec
    return _write(tmp_path, yaml.safe_dump(doc))


def test_the_example_spec_is_the_one_a_cluster_gets() -> None:
    name, spec = read_spec_file(EXAMPLE)
    assert name == "homepage"
    assert spec["dataSources"]["layout"] == "generated"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: [unclosed", "not valid YAML"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "exactly one RecommenderSystem, found 0"),
        ("kind: RecommenderSystem\nmetadata: {}\nspec: {}\n", "metadata.name is required"),
    ],
)
def test_unusable_files_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(LocalModeError, match=message):
        read_spec_file(_write(tmp_path, text))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(LocalModeError, match=r"cannot read .*nope\.yaml"):
        read_spec_file(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"reranking": {"numItems": 0}}, "spec.reranking.numItems"),
        ({"serving": {"graph": "fancy"}}, "spec.serving.graph"),
        ({"ranking": {"topK": 5}, "reranking": {"numItems": 10}}, "spec.reranking.numItems must not exceed"),
        ({"surprise": True}, "spec.surprise"),
    ],
)
def test_invalid_specs_name_the_field_as_the_operator_does(
    tmp_path: Path, spec: dict[str, object], field: str
) -> None:
    with pytest.raises(LocalModeError, match="invalid spec") as info:
        read_spec_file(_with_spec(tmp_path, spec))
    assert field in str(info.value)


def test_localize_dates_the_generated_shop_to_end_yesterday_and_keeps_that_choice(tmp_path: Path) -> None:
    _, spec = read_spec_file(EXAMPLE)
    today = dt.date(2026, 11, 22)
    first = localize(spec, tmp_path, today, None)
    assert first["dataSources"]["generator"]["startDate"] == "2026-11-14"  # 8 days: 14..21
    assert first["dataSources"]["eventsUri"] == str((tmp_path / "events").resolve())
    later = localize(spec, tmp_path, today + dt.timedelta(days=3), first)
    assert later == first
    assert "startDate" not in spec["dataSources"]["generator"]  # the file's spec is not changed


def test_localize_leaves_real_data_alone(tmp_path: Path) -> None:
    spec = {"dataSources": {"layout": "seed", "uri": "/data/shop"}}
    out = localize(spec, tmp_path, dt.date(2026, 1, 1), None)
    assert "generator" not in out["dataSources"]
    assert out["dataSources"]["uri"] == "/data/shop"


def test_state_round_trips_and_a_corrupt_file_is_named(tmp_path: Path) -> None:
    state = LocalState(name="homepage", spec={"suspend": False})
    save(tmp_path, state)
    assert load(tmp_path) == state
    assert load(tmp_path / "empty") is None
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(LocalStateError, match="not a local-mode state file"):
        load(tmp_path)


def test_a_second_command_on_the_same_folder_is_refused_while_one_runs(tmp_path: Path) -> None:
    with (
        locked(tmp_path),
        pytest.raises(LocalStateError, match="another recsys local command"),
        locked(tmp_path),
    ):
        pass
    with locked(tmp_path):  # released
        pass


def test_the_operator_reconcile_runs_unchanged_on_the_local_cluster() -> None:
    ready: dict[str, bool] = {}
    state = LocalState(name="homepage", spec={"capacity": {"provider": "none"}})
    cluster = LocalCluster(state, lambda component: ready.get(component, False))

    status = reconcile(state.body(), cluster)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "False"
    runs = cluster.objects_of("TrainingRun")
    assert [r["spec"]["type"] for r in runs] == ["Initial"]
    uid = runs[0]["metadata"]["uid"]
    assert uid and runs[0]["metadata"]["creationTimestamp"]

    owner = Owner(name="homepage", namespace=state.namespace, uid=state.uid)
    name = owner.child_name(triton.COMPONENT)
    assert cluster.get("apps/v1", "Deployment", name, state.namespace)["status"]["readyReplicas"] == 0  # type: ignore[index]
    ready["triton"] = True
    assert cluster.get("apps/v1", "Deployment", name, state.namespace)["status"]["readyReplicas"] == 1  # type: ignore[index]

    cluster.apply(runs[0])  # re-applying keeps the identity an API server gave it
    assert cluster.objects_of("TrainingRun")[0]["metadata"]["uid"] == uid


def test_status_patches_merge_like_a_merge_patch() -> None:
    state = LocalState(
        name="homepage", spec={}, status={"model": {"currentVersion": 1, "transition": "UpToDate"}}
    )
    cluster = LocalCluster(state, lambda _: True)
    cluster.patch_status(
        "recsys.io/v1alpha1",
        "RecommenderSystem",
        "homepage",
        "local",
        {"model": {"currentVersion": 2, "transition": None}},
    )
    assert state.status == {"model": {"currentVersion": 2}}


def test_up_without_redis_server_names_the_fix_and_starts_nothing(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from recsys_local.mode import cli

    out = CliRunner().invoke(
        cli.app,
        ["up", "-f", str(EXAMPLE), "--workdir", str(tmp_path / "work")],
        env={"RECSYS_REDIS_SERVER": str(tmp_path / "no-redis-server")},
    )
    assert out.exit_code == 2
    assert "redis-server not found" in out.output and "make tools" in out.output
    assert not (tmp_path / "work" / "state.json").exists()


def test_relative_data_paths_in_a_local_spec_file_are_relative_to_that_file(tmp_path: Path) -> None:
    path = _with_spec(
        tmp_path, {"dataSources": {"layout": "seed", "uri": "shop/../data", "eventsUri": "s3://bucket/e"}}
    )
    _, spec = read_spec_file(path)
    assert spec["dataSources"]["uri"] == str((path.parent / "data").resolve())
    assert spec["dataSources"]["eventsUri"] == "s3://bucket/e"


def test_a_traversing_absolute_data_path_is_refused_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(LocalModeError, match=r"spec.dataSources.uri: .*absolute path without '\.\.'"):
        read_spec_file(_with_spec(tmp_path, {"dataSources": {"layout": "seed", "uri": "/data/../etc"}}))


GUARDED = {"api": {"auth": {"tokenSecretRef": {"name": "front", "key": "bearer"}}}}


def test_local_mode_has_no_secrets_so_a_named_token_comes_from_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = AuthSpec.model_validate(GUARDED["api"]["auth"])
    monkeypatch.delenv(AccessEnv.TOKEN, raising=False)
    monkeypatch.delenv(AccessEnv.TOKEN_FILE, raising=False)
    with pytest.raises(LocalModeError, match=AccessEnv.TOKEN):
        local_guard(auth, RateLimitConfig())
    monkeypatch.setenv(AccessEnv.TOKEN, "t0ken")
    assert local_guard(auth, RateLimitConfig()).token_required
    assert not local_guard(AuthSpec(), RateLimitConfig()).token_required

    # The reconcile's Secret check reads the spec's keys as present: no SecretNotFound locally.
    state = LocalState(name="homepage", spec={**GUARDED, "capacity": {"provider": "none"}})
    cluster = LocalCluster(state, lambda _: True)
    assert cluster.get("v1", "Secret", "front", state.namespace)["data"].keys() == {"bearer"}  # type: ignore[index]
    conditions = {c["type"]: c for c in reconcile(state.body(), cluster)["conditions"]}
    assert conditions["ApiReady"]["status"] == "True"
