"""The spool: fsync'd lines with checksums; torn tails are ignored and trimmed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callcenter.cdr.spool import Spool, SpoolError, decode_line, encode_line, read_segment

WHEN = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def batch(n: int) -> list[dict[str, object]]:
    return [{"table": "calls", "row": {"call_id": f"c{n}", "started_at": WHEN}}]


def all_batches(spool: Spool) -> list[list[dict[str, object]]]:
    return [b for seg in sorted(spool.directory.glob("seg-*")) for b in read_segment(seg)]


def test_round_trip_keeps_datetimes(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append(batch(1))
        spool.append(batch(2))
        assert all_batches(spool) == [batch(1), batch(2)]
        assert spool.pending_records() == 2


def test_torn_tail_is_ignored_and_trimmed_on_open(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append(batch(1))
        spool.append(batch(2))
    segment = next(tmp_path.glob("seg-*"))
    whole = segment.read_bytes()
    segment.write_bytes(whole + encode_line(batch(3))[:-7])  # a crash mid-write
    assert [b[0]["row"]["call_id"] for b in read_segment(segment)] == ["c1", "c2"]
    with Spool(tmp_path) as spool:
        assert segment.read_bytes() == whole
        spool.append(batch(4))
        assert [b[0]["row"]["call_id"] for b in all_batches(spool)] == ["c1", "c2", "c4"]


def test_corrupt_line_stops_reading(tmp_path: Path) -> None:
    line = encode_line(batch(1))
    flipped = line.replace(b"c1", b"c9")
    assert decode_line(line) == batch(1)
    assert decode_line(flipped) is None
    assert decode_line(line[:-1]) is None
    assert decode_line(b"garbage\n") is None


def test_seal_rotates_and_remove_deletes(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append(batch(1))
        assert spool.sealed_segments() == []
        spool.seal()
        spool.append(batch(2))
        sealed = spool.sealed_segments()
        assert len(sealed) == 1 and list(read_segment(sealed[0])) == [batch(1)]
        spool.remove(sealed[0])
        assert all_batches(spool) == [batch(2)]
        assert not spool.is_empty()


def test_segments_rotate_by_size(tmp_path: Path) -> None:
    with Spool(tmp_path, max_segment_bytes=200) as spool:
        for n in range(10):
            spool.append(batch(n))
        assert len(list(tmp_path.glob("seg-*"))) > 1
        assert [b[0]["row"]["call_id"] for b in all_batches(spool)] == [f"c{n}" for n in range(10)]


def test_second_writer_on_same_directory_is_refused(tmp_path: Path) -> None:
    with Spool(tmp_path), pytest.raises(SpoolError, match="in use"):
        Spool(tmp_path).open()
