"""WAL segments and parquet parts on a temporary folder: torn lines, exactly-once rewrites, days."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from recsys_workloads.data import schema as s
from recsys_workloads.data.ingest import open_interactions
from recsys_workloads.events.offline_log import Record, day_of, unique_records, write_parts
from recsys_workloads.events.wal import WriteAheadLog, drain, read_segment

ORIGIN = 1_767_571_200  # 2026-01-05


def rec(event_id: str, at: int, user: str | None = "u1", event_type: str = "View") -> Record:
    return {
        "event_id": event_id,
        s.USER_ID: user,
        s.ANONYMOUS_ID: None if user else "anon-1",
        s.ITEM_ID: "i1",
        s.TIMESTAMP: at,
        s.DEVICE_TYPE: "web",
        s.EVENT_TYPE: event_type,
    }


def test_days_count_from_the_dataset_origin() -> None:
    assert day_of(ORIGIN, ORIGIN) == 0
    assert day_of(ORIGIN + 86_399, ORIGIN) == 0
    assert day_of(ORIGIN + 86_400 * 12 + 5, ORIGIN) == 12


def test_an_event_id_is_unique_per_visitor_not_globally() -> None:
    records = [
        rec("e1", ORIGIN),
        rec("e1", ORIGIN + 1),
        rec("e1", ORIGIN, user="u2"),
        rec("e1", ORIGIN, None),
    ]
    assert [r[s.TIMESTAMP] for r in unique_records(records)] == [ORIGIN, ORIGIN, ORIGIN]


def test_a_torn_last_line_is_dropped_but_corruption_in_the_middle_is_an_error(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, "w")
    wal.append([rec("e1", ORIGIN), rec("e2", ORIGIN)])
    wal.seal()
    (segment,) = wal.sealed_segments()
    with segment.open("ab") as handle:
        handle.write(b'{"event_id": "e3", "user_')
    assert [r["event_id"] for r in read_segment(segment)] == ["e1", "e2"]
    with segment.open("ab") as handle:
        handle.write(b"\n" + segment.read_bytes().split(b"\n")[0] + b"\n")
    with pytest.raises(ValueError, match="corrupt line 3"):
        read_segment(segment)


def test_draining_writes_day_partitions_in_the_canonical_layout_and_removes_segments(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "wal", "w")
    wal.append([rec("e1", ORIGIN + 10), rec("e2", ORIGIN + 86_400 + 5, event_type="Impression")])
    assert wal.open_rows == 2 and wal.size_bytes() > 0

    rows = drain(wal, lambda records, part: write_parts(records, tmp_path, ORIGIN, part))

    assert rows == 2 and wal.sealed_segments() == [] and wal.size_bytes() == 0
    assert sorted(p.name for p in (tmp_path / s.INTERACTIONS_DIR).iterdir()) == ["day=00", "day=01"]
    table = open_interactions(tmp_path).to_table()
    assert sorted(zip(table.column(s.DAY).to_pylist(), table.column(s.CLICKED).to_pylist(), strict=True)) == [
        (0, True),
        (1, False),
    ]
    assert table.schema.field(s.EVENT_TYPE).type == s.INTERACTIONS_SCHEMA.field(s.EVENT_TYPE).type


def test_writing_the_same_segment_twice_replaces_its_parts_so_rows_stay_exactly_once(tmp_path: Path) -> None:
    records = [rec("e1", ORIGIN), rec("e2", ORIGIN + 1), rec("e1", ORIGIN)]
    write_parts(records, tmp_path, ORIGIN, "w-1")
    write_parts(records, tmp_path, ORIGIN, "w-1")
    assert open_interactions(tmp_path).count_rows() == 2


def test_appends_after_a_seal_go_to_a_new_segment(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, "host/with:odd chars", fsync=False)
    wal.append([rec("e1", ORIGIN)])
    wal.seal()
    wal.append([rec("e2", ORIGIN)])
    sealed = wal.sealed_segments()
    assert len(sealed) == 1 and "host_with_odd_chars" in sealed[0].name
    assert [r["event_id"] for r in read_segment(sealed[0])] == ["e1"]
    assert len(list(tmp_path.glob("wal-*.jsonl"))) == 2


def test_concurrent_appends_share_fsyncs_and_lose_no_line(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, "w")

    def writer(t: int) -> None:
        for n in range(50):
            wal.append([rec(f"t{t}-{n}", ORIGIN)])
            if t == 0 and n % 10 == 9:
                wal.seal()

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wal.seal()
    ids = [r["event_id"] for segment in wal.sealed_segments() for r in read_segment(segment)]
    assert sorted(ids) == sorted(f"t{t}-{n}" for t in range(8) for n in range(50))
