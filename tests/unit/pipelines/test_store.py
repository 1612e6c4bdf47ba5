"""The artifact store: a local folder, or S3 through boto3 (moto's server on loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_workloads.pipelines import store
from tests.conftest import S3Bucket


def _version(root: Path) -> Path:
    (root / "index").mkdir(parents=True)
    (root / "manifest.json").write_text('{"kind": "initial"}\n')
    (root / "index" / "items.faiss").write_bytes(bytes(range(256)))
    return root


def test_s3_uris_split_into_bucket_and_prefix() -> None:
    assert store.split_s3("s3://bucket/a/b/") == ("bucket", "a/b")
    assert store.split_s3("s3://bucket") == ("bucket", "")
    assert (
        store.join("s3://bucket/root/", "homepage", "versions", "3") == "s3://bucket/root/homepage/versions/3"
    )
    with pytest.raises(ValueError, match="names no bucket"):
        store.split_s3("s3:///key")


def test_a_local_folder_round_trips_a_version(tmp_path: Path) -> None:
    version = _version(tmp_path / "v")
    written = store.upload_dir(version, str(tmp_path / "store" / "1"))
    assert len(written) == 2
    back = store.download_dir(str(tmp_path / "store" / "1"), tmp_path / "back")
    assert (back / "index" / "items.faiss").read_bytes() == bytes(range(256))


@pytest.fixture
def s3(s3_bucket: S3Bucket) -> str:
    """The loopback S3 server (tests/conftest.py); boto3 finds it through AWS_ENDPOINT_URL."""
    return s3_bucket.uri("artifacts")


def test_s3_round_trips_a_version_byte_for_byte(s3: str, tmp_path: Path) -> None:
    version = _version(tmp_path / "v")
    target = store.join(s3, "homepage", "versions", "1")
    assert sorted(store.upload_dir(version, target)) == [
        f"{target}/index/items.faiss",
        f"{target}/manifest.json",
    ]
    back = store.download_dir(target, tmp_path / "back")
    assert (back / "index" / "items.faiss").read_bytes() == bytes(range(256))
    assert (back / "manifest.json").read_text() == '{"kind": "initial"}\n'


def test_downloading_a_missing_s3_prefix_fails_loudly(s3: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing under"):
        store.download_dir(store.join(s3, "nope"), tmp_path / "back")


def test_a_small_document_round_trips_locally_and_a_missing_one_is_not_found(tmp_path: Path) -> None:
    uri = str(tmp_path / "homepage" / "runs" / "r1" / "outputs.json")
    with pytest.raises(FileNotFoundError):
        store.read_text(uri)
    store.write_text(uri, '{"version": 3}')
    assert store.read_text(uri) == '{"version": 3}'
    assert [p.name for p in (tmp_path / "homepage" / "runs" / "r1").iterdir()] == ["outputs.json"]


def test_a_small_document_round_trips_through_s3(s3: str) -> None:
    uri = store.join(s3, "homepage", "runs", "r1", "outputs.json")
    with pytest.raises(FileNotFoundError):
        store.read_text(uri)
    store.write_text(uri, '{"version": 3}')
    assert store.read_text(uri) == '{"version": 3}'
