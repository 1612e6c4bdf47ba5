"""What the event service and incremental runs read on a cluster's volumes."""

from __future__ import annotations

from pathlib import Path

from recsys_workloads.data import schema as s
from recsys_workloads.data.sources import append_event_log
from recsys_workloads.pipelines.steps import CATALOG, publish_catalog


def _dataset(root: Path, marker: str) -> Path:
    root.mkdir(parents=True)
    (root / s.ITEMS_FILE).write_text(f"items {marker}")
    (root / s.MANIFEST_FILE).write_text(f'{{"origin_timestamp": 0, "marker": "{marker}"}}')
    return root


def test_the_catalog_is_published_as_one_swap_and_old_copies_go(tmp_path: Path) -> None:
    repository = tmp_path / "models"
    link = publish_catalog(_dataset(tmp_path / "a", "first"), repository)
    assert link == repository / CATALOG and link.is_symlink()
    assert (link / s.ITEMS_FILE).read_text() == "items first"
    first_target = str(link.readlink())
    publish_catalog(_dataset(tmp_path / "b", "second"), repository)
    assert (link / s.ITEMS_FILE).read_text() == "items second"
    assert not (repository / first_target).exists()  # the replaced copy is removed
    # A relative link: it resolves wherever the volume is mounted (/models in every pod).
    assert not str(link.readlink()).startswith("/")
    assert sorted(p.name for p in repository.iterdir() if p.name.startswith(".")) == [str(link.readlink())]


def _part(root: Path, day: int, name: str) -> None:
    folder = root / s.INTERACTIONS_DIR / f"day={day:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"parquet")


def test_the_event_log_is_read_from_one_writer_or_from_every_replicas_folder(tmp_path: Path) -> None:
    single, volume = tmp_path / "single", tmp_path / "volume"
    _part(single, 4, "part-wal-api-1.parquet")
    _part(volume / "shop-events-0", 4, "part-wal-shop-events-0-1.parquet")
    _part(volume / "shop-events-1", 4, "part-wal-shop-events-1-1.parquet")
    _part(volume / "shop-events-1", 5, "part-wal-shop-events-1-2.parquet")
    assert append_event_log(single, tmp_path / "d1") == 1
    assert append_event_log(volume, tmp_path / "d2") == 3
    copied = sorted(p.name for p in (tmp_path / "d2" / s.INTERACTIONS_DIR).glob("day=*/*.parquet"))
    assert copied == [
        "events-part-wal-shop-events-0-1.parquet",
        "events-part-wal-shop-events-1-1.parquet",
        "events-part-wal-shop-events-1-2.parquet",
    ]
    assert append_event_log(tmp_path / "missing", tmp_path / "d3") == 0
