"""s3:// data sources against a real S3 API server on loopback (moto's server mode, tests/conftest.py).

Every refusal is one line naming the uri (a DataValidationError, as bad files are), never a
botocore traceback; a good prefix ingests into the same canonical dataset as the same files
read from a local folder.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from boto3.s3.transfer import TransferConfig

from recsys_workloads.contracts.data_sources import DataSourcesSpec
from recsys_workloads.data import schema as s
from recsys_workloads.data.errors import DataValidationError
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.sources import prepare_canonical
from recsys_workloads.data.staging import EVENTS, S3Object, StagingError, layout_needs, stage_prefix
from tests.conftest import S3Bucket

MiB = 1024 * 1024
T0 = 1_767_571_200  # 2026-01-05T00:00:00Z


@pytest.fixture(scope="module")
def seed_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed") / "shop"
    generate(GeneratorConfig(users=60, items=40, days=3, interactions=1_500, images=True, seed=3), out)
    return out


def _refusal(excinfo: pytest.ExceptionInfo[StagingError], reason: str, *fragments: str) -> str:
    message = str(excinfo.value)
    assert excinfo.value.reason == reason, message
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message and "botocore" not in message and "Traceback" not in message
    return message


# --- a missing prefix, a missing object, an object gone in the middle ---------------------------


def test_a_missing_prefix_is_refused_naming_it(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    uri = s3_bucket.uri("shops", "nope")
    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("seed"))
    _refusal(excinfo, "missing", uri, "nothing under this prefix")
    sources = DataSourcesSpec.model_validate({"layout": "seed", "uri": uri})
    with pytest.raises(DataValidationError, match="nothing under this prefix"):
        prepare_canonical(sources, tmp_path / "canon", tmp_path / "scratch")
    assert not (tmp_path / "canon").exists()


def test_a_missing_bucket_is_refused_naming_it(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    with pytest.raises(StagingError) as excinfo:
        stage_prefix("s3://no-such-bucket/shop", tmp_path / "staged")
    _refusal(excinfo, "missing", "s3://no-such-bucket/shop", "no such bucket")


def test_an_object_the_layout_needs_is_refused_before_anything_is_downloaded(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(seed_shop, partial)
    (partial / s.USERS_FILE).unlink()
    uri = s3_bucket.put_dir(partial, "shops/seed")
    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("seed"))
    _refusal(excinfo, "missing", f"{uri}/users.parquet", "object is missing")
    assert list((tmp_path / "staged").iterdir()) == []


def test_an_object_deleted_in_the_middle_of_staging_is_refused_naming_it(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    uri = s3_bucket.put_dir(seed_shop, "shops/seed")
    client = s3_bucket.client()

    def writer_deletes_day_1(listed: Sequence[S3Object]) -> None:
        assert "shops/seed/day_01.parquet" in {o.key for o in listed}
        client.delete_object(Bucket=s3_bucket.name, Key="shops/seed/day_01.parquet")

    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("seed"), on_listed=writer_deletes_day_1)
    _refusal(excinfo, "changed", f"{uri}/day_01.parquet", "gone")


def test_an_object_replaced_while_staging_is_refused(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    uri = s3_bucket.put_dir(seed_shop, "shops/seed")
    client = s3_bucket.client()

    def writer_rewrites_day_2(listed: Sequence[S3Object]) -> None:
        client.put_object(Bucket=s3_bucket.name, Key="shops/seed/day_02.parquet", Body=b"rewritten")

    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("seed"), on_listed=writer_rewrites_day_2)
    _refusal(excinfo, "changed", f"{uri}/day_02.parquet")


# --- access denied -----------------------------------------------------------------------------


def _iam_user(s3_bucket: S3Bucket, name: str, actions: list[str] | None) -> tuple[str, str]:
    iam = s3_bucket.server.client("iam")
    iam.create_user(UserName=name)
    if actions:
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_user_policy(UserName=name, PolicyName="reader", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


def test_credentials_without_s3_permission_are_refused_naming_the_prefix(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    uri = s3_bucket.put_dir(seed_shop, "shops/seed")
    s3_bucket.use_credentials(*_iam_user(s3_bucket, "no-s3", None))
    s3_bucket.enforce_iam()
    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("seed"))
    _refusal(excinfo, "denied", uri, "access denied to list the prefix (AccessDenied)", "s3:ListBucket")
    sources = DataSourcesSpec.model_validate({"layout": "seed", "uri": uri})
    with pytest.raises(DataValidationError, match="access denied"):
        prepare_canonical(sources, tmp_path / "canon", tmp_path / "scratch")


def test_a_role_that_may_list_but_not_read_is_refused_naming_the_object(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    uri = s3_bucket.put_dir(seed_shop, "shops/seed")
    s3_bucket.use_credentials(*_iam_user(s3_bucket, "list-only", ["s3:ListBucket"]))
    s3_bucket.enforce_iam()
    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("seed"))
    message = _refusal(excinfo, "denied", "access denied to read the object", "s3:GetObject")
    assert message.startswith(f"{uri}/")


def test_unknown_credentials_are_refused_not_a_traceback(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    uri = s3_bucket.put_dir(seed_shop, "shops/seed")
    s3_bucket.use_credentials("AKIANOTAREALKEY00000", "nope")
    s3_bucket.enforce_iam()
    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("seed"))
    _refusal(excinfo, "denied", uri, "InvalidAccessKeyId")


# --- a large object, in parts, in bounded memory ----------------------------------------------------


def test_a_large_object_is_read_in_ranged_parts_with_bounded_memory(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    size = 24 * MiB
    payload = os.urandom(size)
    s3_bucket.client().put_object(Bucket=s3_bucket.name, Key="big/interactions.csv", Body=payload)
    digest = hashlib.sha256(payload).hexdigest()
    del payload
    client = s3_bucket.client()
    ranges: list[tuple[str, str | None]] = []

    def record(params: dict[str, Any], **kwargs: Any) -> None:
        ranges.append((str(params.get("Range")), params.get("IfMatch")))

    client.meta.events.register("provide-client-params.s3.GetObject", record)
    transfer = TransferConfig(
        multipart_threshold=4 * MiB,
        multipart_chunksize=4 * MiB,
        max_concurrency=2,
        io_chunksize=256 * 1024,
        max_io_queue=4,
    )
    tracemalloc.start()
    try:
        staged = stage_prefix(s3_bucket.uri("big"), tmp_path / "staged", client=client, transfer=transfer)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (staged.objects, staged.bytes) == (1, size)
    path = tmp_path / "staged" / "interactions.csv"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert len(ranges) == 6  # 24 MiB in 4 MiB ranges
    starts = sorted(int(r.removeprefix("bytes=").partition("-")[0]) for r, _ in ranges)
    assert starts == [i * 4 * MiB for i in range(6)]  # the last range is open-ended
    assert all(etag is not None and etag.strip('"') for _, etag in ranges)  # pinned to the listing
    assert peak < size // 4, f"peak {peak / MiB:.1f} MiB while staging a {size / MiB:.0f} MiB object"


# --- a partially written prefix ------------------------------------------------------------------


def test_an_unfinished_multipart_upload_marks_the_prefix_partially_written(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    uri = s3_bucket.put_dir(seed_shop, "shops/seed")
    client = s3_bucket.client()
    upload = client.create_multipart_upload(Bucket=s3_bucket.name, Key="shops/seed/day_03.parquet")
    client.upload_part(
        Bucket=s3_bucket.name,
        Key="shops/seed/day_03.parquet",
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=b"x" * (5 * MiB),
    )
    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("seed"))
    _refusal(excinfo, "partial", uri, "still in progress", f"{uri}/day_03.parquet")
    client.abort_multipart_upload(
        Bucket=s3_bucket.name, Key="shops/seed/day_03.parquet", UploadId=upload["UploadId"]
    )
    assert stage_prefix(uri, tmp_path / "again", layout_needs("seed")).objects > 0


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("_temporary/0/_temporary/attempt_1/part-0.parquet", "in-progress marker"),
        ("day_03.parquet._COPYING_", "in-progress marker"),
    ],
)
def test_a_writers_in_progress_marker_marks_the_prefix_partially_written(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path, marker: str, expected: str
) -> None:
    uri = s3_bucket.put_dir(seed_shop, "shops/seed")
    s3_bucket.client().put_object(Bucket=s3_bucket.name, Key=f"shops/seed/{marker}", Body=b"...")
    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("seed"))
    _refusal(excinfo, "partial", expected, f"{uri}/{marker}")


def test_an_object_newer_than_the_success_marker_marks_the_prefix_partially_written(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    client = s3_bucket.client()
    client.put_object(Bucket=s3_bucket.name, Key="shops/seed/_SUCCESS", Body=b"")
    import time

    time.sleep(1.1)  # S3's LastModified has one-second resolution
    uri = s3_bucket.put_dir(seed_shop, "shops/seed")
    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("seed"))
    _refusal(excinfo, "partial", "newer than _SUCCESS")
    client.put_object(Bucket=s3_bucket.name, Key="shops/seed/_SUCCESS", Body=b"")  # the writer finished
    assert stage_prefix(uri, tmp_path / "again", layout_needs("seed")).objects > 0


def test_an_object_added_while_staging_marks_the_prefix_partially_written_but_not_the_event_log(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    uri = s3_bucket.put_dir(seed_shop, "shops/seed")
    client = s3_bucket.client()

    def writer_adds_day_3(listed: Sequence[S3Object]) -> None:
        client.put_object(
            Bucket=s3_bucket.name,
            Key="shops/seed/day_03.parquet",
            Body=(seed_shop / "day_02.parquet").read_bytes(),
        )

    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("seed"), on_listed=writer_adds_day_3)
    _refusal(excinfo, "partial", f"{uri}/day_03.parquet", "appeared while staging")

    part = seed_shop / "day_00.parquet"
    client.upload_file(str(part), s3_bucket.name, "events/a/interactions/day=00/part-1.parquet")
    client.put_object(Bucket=s3_bucket.name, Key="events/a/interactions/day=00/.part-2.parquet.tmp", Body=b"")

    def service_writes_a_part(listed: Sequence[S3Object]) -> None:
        client.upload_file(str(part), s3_bucket.name, "events/a/interactions/day=00/part-2.parquet")

    staged = stage_prefix(
        s3_bucket.uri("events"), tmp_path / "events", EVENTS, growing=True, on_listed=service_writes_a_part
    )
    assert staged.objects == 1  # the new part waits for the next run
    assert [p.name for p in (tmp_path / "events").rglob("*.parquet")] == ["part-1.parquet"]


# --- full ingests: the same canonical dataset from S3 as from the same local files ----------------


def _dataset_files(root: Path) -> dict[str, object]:
    """Every file of a canonical dataset by relative path: parquet as tables, the rest as bytes
    (the manifest without its `source`, which names where the files were read from)."""
    found: dict[str, object] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        if path.suffix == ".parquet":
            found[name] = pq.read_table(path).to_pydict()
        elif path.name == s.MANIFEST_FILE:
            found[name] = {k: v for k, v in json.loads(path.read_text()).items() if k != "source"}
        else:
            found[name] = path.read_bytes()
    return found


def _event_log(shop_canonical: Path, root: Path) -> Path:
    """Two writers' parts, as the event service lays them out on its log volume."""
    day = shop_canonical / s.INTERACTIONS_DIR / s.day_partition_name(2) / "part-0.parquet"
    for writer in ("events-0", "events-1"):
        target = root / writer / s.INTERACTIONS_DIR / s.day_partition_name(2) / f"part-{writer}-0001.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(day, target)
    (root / "events-0" / "wal").mkdir()
    (root / "events-0" / "wal" / "segment-0001.log").write_text("not read\n")
    return root


def test_a_seed_shop_and_its_event_log_ingest_from_s3_as_from_local_folders(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    prepare_canonical(
        DataSourcesSpec.model_validate({"layout": "seed", "uri": str(seed_shop)}), plain, tmp_path / "s0"
    )
    events = _event_log(plain, tmp_path / "events")
    local_spec = {"layout": "seed", "uri": str(seed_shop), "eventsUri": str(events)}
    local = prepare_canonical(DataSourcesSpec.model_validate(local_spec), tmp_path / "local", tmp_path / "s1")

    remote_spec = {
        "layout": "seed",
        "uri": s3_bucket.put_dir(seed_shop, "shops/seed"),
        "eventsUri": s3_bucket.put_dir(events, "events"),
    }
    remote = prepare_canonical(
        DataSourcesSpec.model_validate(remote_spec), tmp_path / "remote", tmp_path / "s2"
    )

    assert (remote.interactions, remote.days, remote.images) == (local.interactions, local.days, 40)
    assert _dataset_files(tmp_path / "remote") == _dataset_files(tmp_path / "local")
    added = sorted(p.name for p in (tmp_path / "remote" / s.INTERACTIONS_DIR).rglob("events-*.parquet"))
    assert added == ["events-part-events-0-0001.parquet", "events-part-events-1-0001.parquet"]
    manifest = json.loads((tmp_path / "remote" / s.MANIFEST_FILE).read_text())
    assert manifest["source"] == remote_spec["uri"]
    assert list((tmp_path / "s2").iterdir()) == []  # staged copies are removed after the ingest


def test_a_missing_event_log_on_s3_is_no_events_yet(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    spec = {
        "layout": "seed",
        "uri": s3_bucket.put_dir(seed_shop, "shops/seed"),
        "eventsUri": s3_bucket.uri("none"),
    }
    summary = prepare_canonical(
        DataSourcesSpec.model_validate(spec), tmp_path / "canon", tmp_path / "scratch"
    )
    assert summary.days == [0, 1, 2]
    assert not list((tmp_path / "canon" / s.INTERACTIONS_DIR).rglob("events-*"))


def _rds_shop(root: Path) -> tuple[Path, Path, Path]:
    """A tiny RDS layout, its interactions CSV and an image store kept per category, apart."""
    source = root / "rds"
    source.mkdir(parents=True)
    products = [
        {"id": "p1", "name": "Red Chair", "category": "furniture", "style": "chairs", "price": 99.99,
         "description": "A red chair", "image": "p1.jpg"},
        {"id": "p2", "name": "Blue Shirt", "category": "apparel", "style": "shirt", "price": 19.99,
         "gender_affinity": "M", "image": "p2.jpg"},
        {"id": "p3", "name": "Bread", "category": "groceries", "style": "bakery", "price": 3.99},
    ]  # fmt: skip
    (source / "products.yaml").write_text(json.dumps(products))
    users = [{"id": "1", "gender": "F", "age": 30}, {"id": "2", "gender": "M", "age": 41}]
    with gzip.open(source / "users.json.gz", "wt") as fh:
        json.dump(users, fh)
    (source / "cstore_users.json").write_text(json.dumps([{"id": "3", "gender": "F", "age": 52}]))
    csv = root / "logs" / "interactions.csv"
    csv.parent.mkdir()
    csv.write_text(
        "ITEM_ID,USER_ID,EVENT_TYPE,TIMESTAMP,DISCOUNT\n"
        f"p1,1,View,{T0 + 10},No\np2,3,Purchase,{T0 + 20},Yes\np9,2,View,{T0 + 86_400 + 5},No\n"
        f"p3,7,View,{T0 + 86_400 + 9},\n"
    )
    images = root / "images"
    for category, name in (("furniture", "p1.jpg"), ("apparel", "p2.jpg")):
        (images / category).mkdir(parents=True)
        (images / category / name).write_bytes(f"picture of {name}".encode())
    return source, csv, images


def test_an_rds_shop_with_interactions_and_images_elsewhere_ingests_from_s3_as_locally(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    source, csv, images = _rds_shop(tmp_path / "shop")
    local_spec = {"layout": "rds", "uri": str(source), "interactionsUri": str(csv), "imagesUri": str(images)}
    local = prepare_canonical(DataSourcesSpec.model_validate(local_spec), tmp_path / "local", tmp_path / "s1")
    client = s3_bucket.client()
    client.upload_file(str(csv), s3_bucket.name, "logs/2026/interactions.csv")
    remote_spec = {
        "layout": "rds",
        "uri": s3_bucket.put_dir(source, "rds"),
        "interactionsUri": s3_bucket.uri("logs", "2026", "interactions.csv"),
        "imagesUri": s3_bucket.put_dir(images, "images"),
    }
    remote = prepare_canonical(
        DataSourcesSpec.model_validate(remote_spec), tmp_path / "remote", tmp_path / "s2"
    )
    assert (remote.items, remote.users, remote.interactions, remote.images) == (3, 4, 3, 2)
    assert remote.unknown == local.unknown
    assert remote.unknown["dropped_interactions"] == 1
    assert _dataset_files(tmp_path / "remote") == _dataset_files(tmp_path / "local")
    assert (tmp_path / "remote" / s.IMAGES_DIR / "p2.png").read_bytes() == b"picture of p2.jpg"


def test_an_rds_prefix_without_its_products_or_users_is_refused_naming_what_is_missing(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    source, _, _ = _rds_shop(tmp_path / "shop")
    (source / "products.yaml").unlink()
    uri = s3_bucket.put_dir(source, "rds")
    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("rds", interactions_elsewhere=True))
    _refusal(excinfo, "missing", f"{uri}/products.yaml")
    with pytest.raises(StagingError) as excinfo:
        stage_prefix(uri, tmp_path / "staged", layout_needs("rds"))
    _refusal(excinfo, "missing", uri)
    missing_csv = {"layout": "rds", "uri": uri, "interactionsUri": s3_bucket.uri("logs", "none.csv")}
    with pytest.raises(DataValidationError, match=r"none\.csv: object is missing"):
        prepare_canonical(
            DataSourcesSpec.model_validate(missing_csv), tmp_path / "canon", tmp_path / "scratch"
        )


def test_recsys_data_ingest_and_validate_read_an_s3_prefix(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from recsys_workloads.data.cli import app

    uri = s3_bucket.put_dir(seed_shop, "shops/seed")
    runner = CliRunner()
    result = runner.invoke(app, ["validate", uri, "--layout", "seed"])
    assert result.exit_code == 0 and "valid seed layout" in result.output, result.output
    result = runner.invoke(app, ["ingest", uri, str(tmp_path / "canon"), "--layout", "seed"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "canon" / s.MANIFEST_FILE).read_text())["source"] == uri
    result = runner.invoke(app, ["validate", uri])
    assert result.exit_code == 1 and "needs --layout seed, rds or personalize" in result.output
    result = runner.invoke(app, ["validate", s3_bucket.uri("nope"), "--layout", "seed"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "nothing under this prefix" in " ".join(result.output.split())


def test_a_personalize_prefix_ingests_from_s3_as_locally_and_one_without_items_csv_is_refused(
    s3_bucket: S3Bucket, seed_shop: Path, tmp_path: Path
) -> None:
    from recsys_workloads.data.personalize import export

    canon = tmp_path / "canon"
    prepare_canonical(
        DataSourcesSpec.model_validate({"layout": "seed", "uri": str(seed_shop)}), canon, tmp_path / "s0"
    )
    export(canon, tmp_path / "pz")
    local = prepare_canonical(
        DataSourcesSpec.model_validate({"layout": "personalize", "uri": str(tmp_path / "pz")}),
        tmp_path / "local",
        tmp_path / "s1",
    )
    uri = s3_bucket.put_dir(tmp_path / "pz", "shops/pz")
    remote = prepare_canonical(
        DataSourcesSpec.model_validate({"layout": "personalize", "uri": uri}),
        tmp_path / "remote",
        tmp_path / "s2",
    )
    assert (remote.interactions, remote.days, remote.images) == (local.interactions, local.days, 40)
    assert _dataset_files(tmp_path / "remote") == _dataset_files(tmp_path / "local")
    (tmp_path / "pz" / "items.csv").unlink()
    bare = s3_bucket.put_dir(tmp_path / "pz", "shops/pz-bare")
    with pytest.raises(StagingError) as excinfo:
        stage_prefix(bare, tmp_path / "staged", layout_needs("personalize"))
    _refusal(excinfo, "missing", bare, "no items CSV (items.csv[.gz]) under this prefix")
