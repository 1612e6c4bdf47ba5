"""Stage an s3:// data source to local scratch, checked, before ingest reads it (decision 0022).

Ingest reads local folders (pyarrow, gzip, YAML); a source on S3 is first copied to the step's
scratch folder here, object by object, each in ranged parts through boto3's transfer manager
(bounded memory: `max_concurrency` requests of `multipart_chunksize`, and a queue of
`max_io_queue` buffers of `io_chunksize` on their way to disk), then ingested like any folder.

Before anything is downloaded the listing is checked, so a bad source is refused with one line
naming the uri, never a botocore traceback:

- nothing under the prefix (or no such bucket): `missing`;
- an object the layout needs is absent (a seed prefix without users.parquet, an RDS prefix
  without products.yaml): `missing`, naming the object;
- the credentials boto3 found may not list or read it: `denied` (also bad or expired keys,
  no credentials at all, an endpoint that does not answer: `unreachable`);
- the prefix is still being written (`partial`), by this rule:
    1. an unfinished multipart upload under the prefix (an object on its way in: S3 shows an
       object only once it is complete, so this is the only trace a large upload leaves);
    2. a writer's in-progress marker: a `_temporary/` folder (Hadoop/Spark committers) or a key
       ending in `._COPYING_` (hadoop fs -put), `.tmp`, `.inprogress`;
    3. a `_SUCCESS` marker older than an object beside it (rewritten after it was complete);
    4. the prefix changes while it is staged: every object is read pinned to the size and ETag
       the listing gave (IfMatch on each ranged GET), and the prefix is listed again at the end;
       an object gone, replaced or added in between refuses the source (`changed`).
  An append-only source (the event service's log, `growing=True`) may gain parts while it is
  staged: those wait for the next run; unfinished uploads and in-progress markers (the event
  service writes `.<part>.tmp` then renames) are not refusals there, and are not staged.

A writer that publishes a prefix in several PUTs without a multipart upload can still be caught
between two objects that each look complete; such a writer should write `_SUCCESS` last and
readers then see rule 3 when it writes again. A missing `_SUCCESS` is not an error: most shops'
exports write none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from s3transfer.manager import TransferManager
from s3transfer.subscribers import BaseSubscriber

from recsys_workloads import object_store
from recsys_workloads.data.errors import DataValidationError

MiB: Final = 1024 * 1024
# Bounded memory whatever the object size: 4 ranged GETs of 16 MiB in flight, 16 buffers of 1 MiB
# queued for the disk writer (~ 20 MiB in all).
TRANSFER: Final = TransferConfig(
    multipart_threshold=16 * MiB,
    multipart_chunksize=16 * MiB,
    max_concurrency=4,
    io_chunksize=MiB,
    max_io_queue=16,
    use_threads=True,
)
SUCCESS_MARKER: Final = "_SUCCESS"
IN_PROGRESS = re.compile(r"(^|/)_temporary/|\._COPYING_$|\.tmp$|\.inprogress$")

Reason = Literal["missing", "denied", "unreachable", "partial", "changed"]


class StagingError(DataValidationError):
    """An S3 source that cannot be staged; `reason` says which rule refused it."""

    def __init__(self, uri: str, reason: Reason, message: str) -> None:
        self.reason = reason
        super().__init__(uri, message)


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    etag: str
    last_modified: Any  # datetime from botocore

    def relative_to(self, prefix: str) -> str:
        return self.key[len(prefix) :].lstrip("/") if prefix else self.key


@dataclass(frozen=True)
class Needs:
    """What a layout reads under a prefix (relative keys) and what it cannot do without."""

    wanted: Callable[[str], bool]
    required: Sequence[str] = ()  # exact relative keys
    one_of: Sequence[tuple[str, re.Pattern[str]]] = ()  # (what, pattern): at least one key matches


def _top(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"^{pattern}$")


SEED_DAY = _top(r"day_\d+\.parquet")
RDS_USERS = _top(r"[^/]*users[^/]*\.json(\.gz)?")
RDS_INTERACTIONS = _top(r"[^/]+\.csv(\.gz)?")
IMAGE_KEY = re.compile(r"^images/")
EVENT_PART = re.compile(r"^([^/]+/)?interactions/day=\d+/[^/]+\.parquet$")
SEED_FILES = ("items.parquet", "users.parquet", "item_descriptions.parquet")
PERSONALIZE_ITEMS = _top(r"items\.csv(\.gz)?")
PERSONALIZE_USERS = _top(r"users\.csv(\.gz)?")
PERSONALIZE_INTERACTIONS = _top(r"interactions[^/]*\.csv(\.gz)?")


def layout_needs(
    layout: str, *, interactions_elsewhere: bool = False, images_elsewhere: bool = False
) -> Needs:
    """What ingest reads of a `seed`, `rds` or `personalize` source prefix (ingest.py), and what it requires."""

    def images(key: str) -> bool:
        return not images_elsewhere and bool(IMAGE_KEY.match(key))

    if layout == "seed":
        return Needs(
            wanted=lambda k: k in SEED_FILES or bool(SEED_DAY.match(k)) or images(k),
            required=("items.parquet", "users.parquet"),
            one_of=(("day_NN.parquet interactions", SEED_DAY),),
        )
    if layout == "rds":
        csv: tuple[tuple[str, re.Pattern[str]], ...] = (
            () if interactions_elsewhere else (("interactions CSV", RDS_INTERACTIONS),)
        )
        return Needs(
            wanted=lambda k: (
                k == "products.yaml"
                or bool(RDS_USERS.match(k))
                or (not interactions_elsewhere and bool(RDS_INTERACTIONS.match(k)))
                or images(k)
            ),
            required=("products.yaml",),
            one_of=(("users JSON (users.json[.gz])", RDS_USERS), *csv),
        )
    if layout == "personalize":
        interactions: tuple[tuple[str, re.Pattern[str]], ...] = (
            ()
            if interactions_elsewhere
            else (("interactions CSV (interactions*.csv)", PERSONALIZE_INTERACTIONS),)
        )
        return Needs(
            wanted=lambda k: (
                bool(PERSONALIZE_ITEMS.match(k))
                or bool(PERSONALIZE_USERS.match(k))
                or (not interactions_elsewhere and bool(PERSONALIZE_INTERACTIONS.match(k)))
                or images(k)
            ),
            one_of=(("items CSV (items.csv[.gz])", PERSONALIZE_ITEMS), *interactions),
        )
    raise ValueError(f"no S3 staging rule for layout {layout!r}")


EVENTS: Final = Needs(wanted=lambda k: bool(EVENT_PART.match(k)))
EVERYTHING: Final = Needs(wanted=lambda k: True)


class _KnownObject(BaseSubscriber):  # type: ignore[misc]
    """Tells the transfer manager the listing's size and ETag: no HEAD, and IfMatch on every part."""

    def __init__(self, obj: S3Object) -> None:
        self.obj = obj

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self.obj.size)
        future.meta.provide_object_etag(self.obj.etag)


def _refusal(uri: str, exc: BaseException, action: str) -> StagingError:
    """A boto error as one line naming `uri` and what was being done."""
    code = object_store.error_code(exc)
    if isinstance(exc, NoCredentialsError):
        return StagingError(
            uri,
            "denied",
            f"no AWS credentials found to {action} (environment, profile, IRSA web identity or instance role)",
        )
    if code in object_store.DENIED:
        return StagingError(
            uri,
            "denied",
            f"access denied to {action} ({code}): the credentials boto3 found lack the permission "
            "(s3:ListBucket on the bucket, s3:GetObject on the keys)",
        )
    if code in object_store.BAD_CREDENTIALS:
        return StagingError(uri, "denied", f"the S3 endpoint refused the credentials ({code}) to {action}")
    if code == "NoSuchBucket":
        return StagingError(uri, "missing", "no such bucket")
    if code in object_store.NOT_FOUND:
        return StagingError(uri, "changed", f"listed but gone when read ({code}): deleted while staging")
    if code in object_store.CHANGED:
        return StagingError(uri, "changed", "replaced while staging (its ETag changed between list and read)")
    detail = f"{code}: {exc}" if code else f"{exc.__class__.__name__}: {exc}"
    return StagingError(uri, "unreachable", f"cannot {action} ({detail})")


def list_prefix(client: Any, bucket: str, prefix: str) -> list[S3Object]:
    """Every object under `prefix/` (a folder: `a/b` never matches `a/bc`), in key order."""
    found: list[S3Object] = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
        for item in page.get("Contents", []):
            found.append(
                S3Object(
                    key=item["Key"],
                    size=int(item["Size"]),
                    etag=str(item["ETag"]),
                    last_modified=item["LastModified"],
                )
            )
    return sorted(found, key=lambda o: o.key)


def _unfinished_uploads(client: Any, bucket: str, prefix: str) -> list[str]:
    """Keys of multipart uploads begun and not completed under `prefix/` (none if we may not ask)."""
    try:
        answer = client.list_multipart_uploads(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "")
    except ClientError as exc:
        if object_store.error_code(exc) in object_store.DENIED:
            return []  # s3:ListBucketMultipartUploads is not a reader's permission: rules 2-4 remain
        raise
    return sorted(str(u["Key"]) for u in answer.get("Uploads", []))


def check_complete(uri: str, objects: Sequence[S3Object], prefix: str, uploads: Iterable[str]) -> None:
    """Rules 1-3 of the module docstring on a listing."""
    uploading = list(uploads)
    if uploading:
        names = ", ".join(object_store.s3_uri(uri_bucket(uri), k) for k in uploading[:3])
        raise StagingError(
            uri,
            "partial",
            f"partially written: {len(uploading)} upload(s) still in progress ({names}); "
            "retry when the writer has finished",
        )
    marked = [o for o in objects if IN_PROGRESS.search(o.relative_to(prefix))]
    if marked:
        raise StagingError(
            uri,
            "partial",
            f"partially written: a writer's in-progress marker {object_store.s3_uri(uri_bucket(uri), marked[0].key)}"
            " is there; retry when the writer has finished",
        )
    marker = next((o for o in objects if o.relative_to(prefix) == SUCCESS_MARKER), None)
    if marker is not None:
        newer = [o for o in objects if o is not marker and o.last_modified > marker.last_modified]
        if newer:
            raise StagingError(
                uri,
                "partial",
                f"partially written: {object_store.s3_uri(uri_bucket(uri), newer[0].key)} is newer than "
                f"{SUCCESS_MARKER} (written again after it was complete); retry when the writer has finished",
            )


def uri_bucket(uri: str) -> str:
    return object_store.split_s3(uri)[0]


def check_needs(uri: str, relative: Iterable[str], needs: Needs) -> None:
    keys = set(relative)
    for name in needs.required:
        if name not in keys:
            raise StagingError(
                f"{uri.rstrip('/')}/{name}", "missing", "object is missing (the layout needs it)"
            )
    for what, pattern in needs.one_of:
        if not any(pattern.match(k) for k in keys):
            raise StagingError(uri, "missing", f"no {what} under this prefix (the layout needs one)")


@dataclass(frozen=True)
class Staged:
    uri: str
    local: Path
    objects: int
    bytes: int


def stage_prefix(
    uri: str,
    local: Path,
    needs: Needs = EVERYTHING,
    *,
    growing: bool = False,
    missing_ok: bool = False,
    client: Any = None,
    transfer: TransferConfig = TRANSFER,
    on_listed: Callable[[Sequence[S3Object]], None] | None = None,
) -> Staged:
    """Copy the objects `needs` wants under the `uri` prefix into `local` (created), checked.

    `growing`: an append-only log (parts added while staging are left for next time, unfinished
    uploads are not a refusal). `missing_ok`: an empty prefix stages nothing instead of failing.
    `on_listed` runs between the checks and the downloads (tests use it to race a writer).
    """
    bucket, prefix = object_store.split_s3(uri)
    client = client if client is not None else object_store.client()
    local.mkdir(parents=True, exist_ok=True)
    if any(local.iterdir()):  # stale files would be ingested as if they were in the prefix
        raise FileExistsError(f"{local} is not empty: an S3 prefix is staged into an empty folder")
    try:
        listed = list_prefix(client, bucket, prefix)
        uploads = [] if growing else _unfinished_uploads(client, bucket, prefix)
    except (ClientError, BotoCoreError) as exc:
        if missing_ok and object_store.error_code(exc) == "NoSuchBucket":
            return Staged(uri, local, 0, 0)
        raise _refusal(uri, exc, "list the prefix") from None
    if not listed:
        if missing_ok:
            return Staged(uri, local, 0, 0)
        raise StagingError(uri, "missing", "nothing under this prefix (no such prefix, or an empty one)")
    if not growing:  # a log's writer leaves `.tmp` parts and uploads in flight all the time
        check_complete(uri, listed, prefix, uploads)
    check_needs(uri, (o.relative_to(prefix) for o in listed), needs)
    chosen = [o for o in listed if needs.wanted(o.relative_to(prefix))]
    if on_listed is not None:
        on_listed(chosen)
    _download(client, bucket, [(o, local / o.relative_to(prefix)) for o in chosen], transfer)
    _check_unchanged(uri, bucket, prefix, chosen, needs, growing, client)
    return Staged(uri, local, len(chosen), sum(o.size for o in chosen))


def stage_object(uri: str, local: Path, *, client: Any = None, transfer: TransferConfig = TRANSFER) -> Path:
    """One object (an interactions CSV) to the file `local`, pinned to the ETag it had when asked for."""
    bucket, key = object_store.split_s3(uri)
    client = client if client is not None else object_store.client()
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        if object_store.error_code(exc) in object_store.NOT_FOUND - {"NoSuchBucket"}:
            raise StagingError(uri, "missing", "object is missing") from None
        raise _refusal(uri, exc, "read the object") from None
    obj = S3Object(key, int(head["ContentLength"]), str(head["ETag"]), head["LastModified"])
    _download(client, bucket, [(obj, local)], transfer)
    return local


def _download(
    client: Any, bucket: str, jobs: Sequence[tuple[S3Object, Path]], transfer: TransferConfig
) -> None:
    """All of `jobs` through one transfer manager (parts of several objects in flight at once)."""
    for _, path in jobs:
        path.parent.mkdir(parents=True, exist_ok=True)
    with TransferManager(client, transfer) as manager:
        futures = [
            (obj, path, manager.download(bucket, obj.key, str(path), subscribers=[_KnownObject(obj)]))
            for obj, path in jobs
        ]
        for obj, path, future in futures:
            uri = object_store.s3_uri(bucket, obj.key)
            try:
                future.result()
            except (ClientError, BotoCoreError) as exc:
                raise _refusal(uri, exc, "read the object") from None
            if path.stat().st_size != obj.size:
                raise StagingError(
                    uri, "changed", f"read {path.stat().st_size} bytes, the listing said {obj.size}"
                )


def _check_unchanged(
    uri: str,
    bucket: str,
    prefix: str,
    staged: Sequence[S3Object],
    needs: Needs,
    growing: bool,
    client: Any,
) -> None:
    """Rule 4: the prefix listed again holds what was staged, unchanged (and nothing new, unless growing)."""
    try:
        now = {o.key: o for o in list_prefix(client, bucket, prefix) if needs.wanted(o.relative_to(prefix))}
    except (ClientError, BotoCoreError) as exc:
        raise _refusal(uri, exc, "list the prefix") from None
    before = {o.key: o for o in staged}
    for key, obj in before.items():
        again = now.get(key)
        if again is None:
            raise StagingError(object_store.s3_uri(bucket, key), "changed", "deleted while staging")
        if (again.etag, again.size) != (obj.etag, obj.size):
            raise StagingError(object_store.s3_uri(bucket, key), "changed", "replaced while staging")
    added = sorted(set(now) - set(before))
    if added and not growing:
        raise StagingError(
            uri,
            "partial",
            f"partially written: {object_store.s3_uri(bucket, added[0])} appeared while staging "
            f"({len(added)} new object(s)); retry when the writer has finished",
        )
