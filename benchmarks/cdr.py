"""CDR rows per second into PostgreSQL: our batched upserts vs one INSERT per call.

One INSERT and one commit per call is how Asterisk's ``cdr_pgsql`` writes. Uses a scratch
database on $CALLCENTER_TEST_PG's server (default postgresql://postgres@127.0.0.1:5432/test),
dropped afterwards. ``python -m benchmarks.cdr``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
import time
import uuid

import psycopg

from callcenter.cdr.record import CallRecordBuilder
from callcenter.cdr.store import CdrStore
from callcenter.cdr.writer import CdrWriter
from callcenter.db.engine import upgrade

ADMIN_URL = os.environ.get("CALLCENTER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BATCHED_CALLS = 30_000
SINGLE_CALLS = 500
SPOOL_CALLS = 20_000
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def call_rows(prefix: str, count: int) -> list[dict[str, object]]:
    rows = []
    for n in range(count):
        rec = CallRecordBuilder(f"{prefix}{n}", T0, caller_number="0601", dialled_number="100")
        rec.queue_entered("sales", T0 + dt.timedelta(seconds=3))
        rec.ended(T0 + dt.timedelta(seconds=40), side="caller", cause=16)
        rows.append(rec.call_row())
    return rows


def batched(url: str) -> float:
    """Rows/s through CdrWriter (batch 1000, multi-row INSERT ... ON CONFLICT)."""
    rows = call_rows("b", BATCHED_CALLS)

    async def run() -> float:
        with tempfile.TemporaryDirectory() as spool:
            writer = CdrWriter(url, spool, batch_size=1000, flush_interval_ms=50)
            await writer.start()
            started = time.perf_counter()
            for row in rows:
                writer.submit_call(row)
            await writer.flush()
            elapsed = time.perf_counter() - started
            assert writer.stats.committed == len(rows), writer.stats
            await writer.close()
        return len(rows) / elapsed

    return asyncio.run(run())


def one_insert_per_call(url: str) -> float:
    """Rows/s with one INSERT and one commit per call, as cdr_pgsql does."""
    rows = call_rows("s", SINGLE_CALLS)
    store = CdrStore(url)
    started = time.perf_counter()
    for row in rows:
        store.write([{"table": "calls", "row": row}])
    elapsed = time.perf_counter() - started
    store.dispose()
    return len(rows) / elapsed


def spooled() -> float:
    """Rows/s into the fsync'd spool (the path while the database is away), batches of 500."""
    from callcenter.cdr.spool import Spool

    records = [{"table": "calls", "row": row} for row in call_rows("p", SPOOL_CALLS)]
    with tempfile.TemporaryDirectory() as directory, Spool(directory) as spool:
        started = time.perf_counter()
        for i in range(0, len(records), 500):
            spool.append(records[i : i + 500])
        elapsed = time.perf_counter() - started
    return len(records) / elapsed


def main() -> None:
    name = f"cc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    try:
        upgrade(url)
        rate_batched = batched(url)
        rate_single = one_insert_per_call(url)
        rate_spool = spooled()
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        f"batched upserts (CdrWriter, batch 1000): {rate_batched:10,.0f} rows/s (target >= 10,000)"
    )
    print(f"one INSERT + commit per call (cdr_pgsql): {rate_single:10,.0f} CDR rows/s")
    print(f"speed-up: {rate_batched / rate_single:.1f}x")
    print(f"spool while the database is away (fsync per 500 rows): {rate_spool:10,.0f} rows/s")


if __name__ == "__main__":
    main()
