"""S3 access for both data sources (data/staging.py) and the artifact store (pipelines/store.py).

One client recipe: boto3's default credential chain (environment, profile, IRSA's web identity
token in a cluster, instance metadata) and boto3's own endpoint settings, so an S3-compatible
store (MinIO, Ceph, moto in the tests) is reached with `AWS_ENDPOINT_URL` (or
`AWS_ENDPOINT_URL_S3`, or `endpoint_url` in an AWS config profile) and nothing of ours.

boto3 and botocore are imported inside the functions: the operator reaches this module through
the artifact store, and the pipeline steps that never touch S3 should not pay for the import.
"""

from __future__ import annotations

from typing import Any

SCHEME = "s3://"
# Retries of throttling and 5xx answers with backoff (botocore's "standard" mode); a 403 or 404
# is not retried.
RETRIES = {"mode": "standard", "max_attempts": 5}


def is_s3(uri: str) -> bool:
    return uri.startswith(SCHEME)


def split_s3(uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b` → (`bucket`, `a/b`)."""
    bucket, _, key = uri.removeprefix(SCHEME).partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} names no bucket")
    return bucket, key.strip("/")


def s3_uri(bucket: str, key: str) -> str:
    return f"{SCHEME}{bucket}/{key}" if key else f"{SCHEME}{bucket}"


def client() -> Any:
    """An S3 client from the default chain; the endpoint and credentials are boto3's to find.

    A session of its own each time (not boto3's module-wide default session, which keeps the
    first credentials it resolved): the chain is read when the client is made.
    """
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client("s3", config=Config(retries=RETRIES))


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ClientError ('AccessDenied', 'NoSuchKey', '404', ...); '' else."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str((response.get("Error") or {}).get("Code", ""))


NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchBucket"})
DENIED = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "AccountProblem"})
BAD_CREDENTIALS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
)
CHANGED = frozenset({"PreconditionFailed", "412"})
