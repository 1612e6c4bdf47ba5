"""The artifact store: a local folder for local runs, an S3 prefix (boto3) in the cluster.

Exported versions and their reports are copied here after they are published on the
model volume, so they outlive the volume's retention (`keepVersions`). S3 is reached the one
way recsys_workloads.object_store says (default credential chain, IRSA in the cluster, the
endpoint from `AWS_ENDPOINT_URL`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from recsys_workloads.object_store import NOT_FOUND, error_code, is_s3, split_s3
from recsys_workloads.object_store import client as _client

__all__ = [
    "download_dir",
    "is_s3",
    "join",
    "outputs_uri",
    "read_text",
    "split_s3",
    "upload_dir",
    "write_text",
]


def join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])


OUTPUTS_FILE = "outputs.json"


def outputs_uri(artifact_root: str, recommender: str, run_id: str) -> str:
    """Where a run's outputs document lives (KFP's REST API does not carry them); runners read it."""
    return join(artifact_root, recommender, "runs", run_id, OUTPUTS_FILE)


def upload_dir(local: Path, uri: str) -> list[str]:
    """Copy every file under `local` to `uri` (a folder or s3:// prefix); returns the keys written."""
    files = sorted(p for p in local.rglob("*") if p.is_file())
    if not is_s3(uri):
        destination = Path(uri)
        shutil.copytree(local, destination, dirs_exist_ok=True)
        return [str(destination / p.relative_to(local)) for p in files]
    bucket, prefix = split_s3(uri)
    client = _client()
    keys = []
    for path in files:
        key = "/".join(filter(None, [prefix, path.relative_to(local).as_posix()]))
        client.upload_file(str(path), bucket, key)
        keys.append(f"s3://{bucket}/{key}")
    return keys


def download_dir(uri: str, local: Path) -> Path:
    """The inverse of `upload_dir`: every object under `uri` into `local`."""
    if not is_s3(uri):
        shutil.copytree(Path(uri), local, dirs_exist_ok=True)
        return local
    bucket, prefix = split_s3(uri)
    client = _client()
    paginator = client.get_paginator("list_objects_v2")
    found = False
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
        for obj in page.get("Contents", []):
            relative = obj["Key"][len(prefix) :].lstrip("/")
            target = local / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, obj["Key"], str(target))
            found = True
    if not found:
        raise FileNotFoundError(f"nothing under {uri}")
    return local


def write_text(uri: str, text: str) -> str:
    """One small document (a run's outputs) at `uri`, a file path or an s3:// key."""
    if not is_s3(uri):
        path = Path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)  # a reader never sees half a document
        return uri
    bucket, key = split_s3(uri)
    _client().put_object(Bucket=bucket, Key=key, Body=text.encode())
    return uri


def read_text(uri: str) -> str:
    """The inverse of `write_text`; FileNotFoundError when nothing is there."""
    if not is_s3(uri):
        return Path(uri).read_text()
    from botocore.exceptions import ClientError

    bucket, key = split_s3(uri)
    try:
        body = _client().get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND:
            raise FileNotFoundError(uri) from None
        raise
    return str(body.read().decode())
