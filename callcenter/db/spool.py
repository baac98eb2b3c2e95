"""A durable local journal for batches the database could not take (yet): CDRs, routing state.

Layout: ``<spool_dir>/seg-000000000001.jsonl``, ``seg-...2.jsonl``... One line per batch::

    <crc32 of the JSON, 8 hex digits> <JSON list of records>\\n

``append`` writes a line and fsyncs it (plus the directory when a segment is created), so a
batch that ``append`` returned for survives SIGKILL and power loss. A line cut short by a
crash (no newline, or a checksum that does not match) was never acknowledged: readers stop
there and ``Spool.open`` trims it, so a torn tail can never hide later batches.

Replay: ``seal()`` closes the segment being written (new batches go to a fresh one),
``sealed_segments()`` lists the closed ones oldest first, ``read_segment`` yields their batches
and ``remove`` deletes one once every batch of it is committed. A segment replayed twice (crash
between commit and remove) is harmless: the writer's upserts are idempotent.

An exclusive ``flock`` on ``<spool_dir>/.lock`` keeps two writers out of the same directory.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from callcenter.errors import CallCenterError

log = logging.getLogger(__name__)

Record = dict[str, Any]
"""``{"table": NAME, "row": {...}}``: the CDR tables, or routing's ``agent_state``... records."""

SEGMENT_PREFIX = "seg-"
SEGMENT_SUFFIX = ".jsonl"
MAX_SEGMENT_BYTES = 8 * 1024 * 1024


class SpoolError(CallCenterError):
    code = "spool-error"


# --- encoding: datetimes survive the round trip ------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    # Anything else odd (a date, a Decimal, a set) is kept as text rather than losing the batch.
    return str(value)


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$dt" in obj:
        return dt.datetime.fromisoformat(obj["$dt"])
    return obj


def encode_line(batch: list[Record]) -> bytes:
    """One journal line: checksum, space, JSON, newline."""
    body = json.dumps(batch, default=_default, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode_line(line: bytes) -> list[Record] | None:
    """The batch in a line, or None when the line is torn or corrupt."""
    if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        batch = json.loads(body, object_hook=_hook)
    except ValueError:
        return None
    return batch if isinstance(batch, list) else None


def read_segment(path: Path) -> Iterator[list[Record]]:
    """The batches of one segment, stopping at the first torn or corrupt line."""
    with path.open("rb") as file:
        for line in file:
            batch = decode_line(line)
            if batch is None:
                log.warning("spool %s: ignoring a torn or corrupt line and what follows", path)
                return
            yield batch


def _valid_length(path: Path) -> int:
    """Bytes of ``path`` up to the end of its last whole, valid line."""
    good = 0
    with path.open("rb") as file:
        for line in file:
            if decode_line(line) is None:
                break
            good += len(line)
    return good


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """The append-only, fsync'd journal in one directory (see the module docstring)."""

    def __init__(
        self, directory: str | os.PathLike[str], max_segment_bytes: int = MAX_SEGMENT_BYTES
    ):
        self.directory = Path(directory)
        self.max_segment_bytes = max_segment_bytes
        self._lock_fd: int | None = None
        self._current: Path | None = None
        self._fd: int | None = None
        self._size = 0

    # --- life cycle --------------------------------------------------------------------------

    def open(self) -> None:
        """Take the directory's lock and trim a torn tail left by a crash."""
        if not self.directory.is_dir():
            self.directory.mkdir(parents=True)
            _fsync_dir(self.directory.parent)  # the new directory's name must survive a crash
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise SpoolError(
                f"spool {self.directory} is in use by another writer", directory=str(self.directory)
            ) from exc
        self._lock_fd = fd
        segments = self._segments()
        if segments:
            last = segments[-1]
            good = _valid_length(last)
            if good != last.stat().st_size:
                log.warning("spool %s: trimming a torn tail (%d bytes kept)", last, good)
                with last.open("r+b") as file:
                    file.truncate(good)
                    os.fsync(file.fileno())

    def close(self) -> None:
        self._close_current()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Spool:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -----------------------------------------------------------------------------

    def append(self, batch: list[Record]) -> None:
        """Write one batch and fsync it: once this returns, the batch is durable."""
        if self._lock_fd is None:
            raise SpoolError("spool is not open", directory=str(self.directory))
        line = encode_line(batch)
        if self._fd is None or (self._size + len(line) > self.max_segment_bytes and self._size):
            self._start_segment()
        assert self._fd is not None
        view = memoryview(line)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)
        self._size += len(line)

    def seal(self) -> None:
        """Close the segment being written: the next ``append`` starts a new one."""
        self._close_current()

    # --- reading -----------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return not any(p.stat().st_size for p in self._segments())

    def sealed_segments(self) -> list[Path]:
        """Segments not being written to, oldest first."""
        return [p for p in self._segments() if p != self._current]

    def pending_records(self) -> int:
        """How many records wait in the spool (reads every segment: for tests and status)."""
        return sum(len(batch) for path in self._segments() for batch in read_segment(path))

    def remove(self, segment: Path) -> None:
        """Delete a segment whose batches are all committed."""
        segment.unlink(missing_ok=True)
        _fsync_dir(self.directory)

    # --- internals ---------------------------------------------------------------------------

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob(f"{SEGMENT_PREFIX}*{SEGMENT_SUFFIX}"))

    def _start_segment(self) -> None:
        self._close_current()
        segments = self._segments()
        number = (
            int(segments[-1].name[len(SEGMENT_PREFIX) : -len(SEGMENT_SUFFIX)]) + 1
            if segments
            else 1
        )
        path = self.directory / f"{SEGMENT_PREFIX}{number:012d}{SEGMENT_SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._current = path
        self._size = 0
        # The new file's name must be durable too, or a crash could lose the whole segment.
        _fsync_dir(self.directory)

    def _close_current(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._current = None
        self._size = 0
