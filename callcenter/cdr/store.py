"""The database side of the CDR writer: one batch of records, one transaction of upserts.

Every write is idempotent, so a batch replayed from the spool (or written twice after a
time-out whose commit did land) changes nothing:

- ``calls``: ``INSERT ... ON CONFLICT (call_id) DO UPDATE ... WHERE calls.updated_at <=
  excluded.updated_at``: the newest snapshot of a call wins whatever order they arrive in;
- ``call_legs``: upsert on (call_id, seq), never turning an ended leg back into a ringing one;
- ``call_events``: ``ON CONFLICT (call_id, seq) DO NOTHING``;
- ``recordings``: upsert on the recording's name;
- ``voicemail_messages``: upsert on the recording's name of the facts only (duration, sound,
  caller...): who handled a message and their note are never overwritten by a replay.

Legs, events, recordings and voicemail messages reference ``calls``: when a batch holds rows of
a call whose ``calls`` row is not in it (nor, maybe, in the database yet), a placeholder call
row is inserted first (``ON CONFLICT DO NOTHING``, ``updated_at`` at the epoch so any real
snapshot replaces it).

Synchronous on purpose: the async ``CdrWriter`` runs it in a thread with a time-out.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Table,
    and_,
    case,
    column,
    select,
    text,
    update,
)
from sqlalchemy import table as sql_table
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.cdr.spool import Record
from callcenter.db.engine import bounded_engine
from callcenter.db.models import Call, CallEvent, CallLeg, Recording, VoicemailMessage

CALLS: Table = Call.__table__  # type: ignore[assignment]
LEGS: Table = CallLeg.__table__  # type: ignore[assignment]
EVENTS: Table = CallEvent.__table__  # type: ignore[assignment]
RECORDINGS: Table = Recording.__table__  # type: ignore[assignment]
VOICEMAIL: Table = VoicemailMessage.__table__  # type: ignore[assignment]
TABLES = ("calls", "call_legs", "call_events", "recordings", "voicemail_messages")
"""In the order they are written (a voicemail message references its recording)."""
TABLE_OF = {
    "calls": CALLS,
    "call_legs": LEGS,
    "call_events": EVENTS,
    "recordings": RECORDINGS,
    "voicemail_messages": VOICEMAIL,
}
VOICEMAIL_HANDLING = frozenset({"status", "handled_at", "handled_by", "note"})
"""What people write on a voicemail message: a replayed row never touches it."""
COPY_THRESHOLD = 100
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_CALL_DEFAULTS: dict[str, Any] = {
    c.name: None for c in CALLS.columns if c.name not in {"call_id", "started_at", "updated_at"}
}
_CALL_DEFAULTS.update(
    ivr_path=[], digits=[], variables={}, priority=0, transfers=0, disposition="in_progress"
)


cdr_engine = bounded_engine
"""An engine whose connects and statements give up after ``timeout`` seconds."""


def leg_rank(row: dict[str, Any]) -> int:
    """How far a leg snapshot got: 0 ringing, 1 answered, 2 ended."""
    return 2 if row.get("ended_at") else 1 if row.get("answered_at") else 0


def _leg_rank(columns: Any) -> Any:
    return case((columns.ended_at.is_not(None), 2), (columns.answered_at.is_not(None), 1), else_=0)


def split_records(records: Iterable[Record]) -> dict[str, list[dict[str, Any]]]:
    """Records grouped per table, duplicates within the batch folded (newest call wins)."""
    calls: dict[str, dict[str, Any]] = {}
    legs: dict[tuple[str, int], dict[str, Any]] = {}
    events: dict[tuple[str, int], dict[str, Any]] = {}
    recordings: dict[str, dict[str, Any]] = {}
    voicemail: dict[str, dict[str, Any]] = {}
    for record in records:
        table, row = record["table"], record["row"]
        if table == "calls":
            old = calls.get(row["call_id"])
            if old is None or old["updated_at"] <= row["updated_at"]:
                calls[row["call_id"]] = row
        elif table == "call_legs":
            key = (row["call_id"], row["seq"])
            if key not in legs or leg_rank(legs[key]) <= leg_rank(row):
                legs[key] = row
        elif table == "call_events":
            events.setdefault((row["call_id"], row["seq"]), row)
        elif table == "recordings":
            # Rows spooled before recordings had a kind were all conversations.
            recordings[row["name"]] = {"kind": "call", **row}
        elif table == "voicemail_messages":
            voicemail[row["recording_name"]] = row
        else:
            raise ValueError(f"unknown CDR table {table!r}")
    return {
        "calls": list(calls.values()),
        "call_legs": list(legs.values()),
        "call_events": list(events.values()),
        "recordings": list(recordings.values()),
        "voicemail_messages": list(voicemail.values()),
    }


def placeholder_calls(groups: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Minimal call rows for calls referenced by legs/events/recordings of this batch only."""
    have = {row["call_id"] for row in groups["calls"]}
    first_seen: dict[str, dt.datetime] = {}
    for table, key in (
        ("call_legs", "rang_at"),
        ("call_events", "at"),
        ("recordings", "started_at"),
        ("voicemail_messages", "left_at"),
    ):
        for row in groups[table]:
            call_id = row["call_id"]
            if call_id not in have:
                moment = row[key]
                if call_id not in first_seen or moment < first_seen[call_id]:
                    first_seen[call_id] = moment
    return [
        {**_CALL_DEFAULTS, "call_id": c, "started_at": at, "updated_at": EPOCH}
        for c, at in first_seen.items()
    ]


def _on_conflict(name: str, stmt: Any) -> Any:
    """The idempotent conflict clause of each CDR table (see the module docstring)."""
    table = TABLE_OF[name]
    keys = {
        "calls": ["call_id"],
        "recordings": ["name"],
        "voicemail_messages": ["recording_name"],
    }.get(name, ["call_id", "seq"])
    if name == "call_events":
        return stmt.on_conflict_do_nothing(index_elements=keys)
    kept = {"id", *keys, *(VOICEMAIL_HANDLING if name == "voicemail_messages" else ())}
    set_ = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in kept}
    where = None
    if name == "calls":
        where = CALLS.c.updated_at <= stmt.excluded.updated_at
    elif name == "call_legs":
        # An old snapshot (ringing) never overwrites a newer one (answered, ended).
        where = _leg_rank(stmt.excluded) >= _leg_rank(LEGS.c)
    return stmt.on_conflict_do_update(index_elements=keys, set_=set_, where=where)


class CdrStore:
    """Writes batches of CDR records to PostgreSQL (or SQLite) in one transaction each."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url
        self.engine = cdr_engine(url, timeout=timeout)
        self._dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite

    def dispose(self) -> None:
        self.engine.dispose()

    def write(self, records: Sequence[Record]) -> int:
        """Upsert every record in one transaction; returns the rows sent after folding."""
        groups = split_records(records)
        with self.engine.begin() as conn:
            stubs = placeholder_calls(groups)
            if stubs:
                stmt = self._dialect.insert(CALLS)
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["call_id"]), stubs)
            for name in TABLES:
                if groups[name]:
                    self._upsert(conn, name, groups[name])
        return sum(len(rows) for rows in groups.values())

    def _upsert(self, conn: Connection, name: str, rows: list[dict[str, Any]]) -> None:
        """Small batches: a multi-row INSERT; large ones on PostgreSQL: COPY into a temp
        staging table, then one ``INSERT ... SELECT ... ON CONFLICT`` (the fastest bulk path)."""
        table = TABLE_OF[name]
        columns = [c.name for c in table.columns if c.name != "id"]
        if self._dialect is postgresql and len(rows) >= COPY_THRESHOLD:
            stage = f"cdr_stage_{name}"
            raw = conn.connection.driver_connection
            json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
            with raw.cursor() as cur:  # type: ignore[union-attr]
                # Only the columns we copy (no id, no NOT NULL): the real table checks them.
                cur.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                    f"SELECT {', '.join(columns)} FROM {name} WITH NO DATA"
                )
                json_at = [i for i, c in enumerate(columns) if c in json_columns]
                dumps = json.dumps
                with cur.copy(f"COPY {stage} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        values = [row.get(c) for c in columns]
                        for i in json_at:
                            values[i] = dumps(values[i])
                        copy.write_row(values)
            source: Any = select(*[column(c) for c in columns]).select_from(sql_table(stage))
            stmt = self._dialect.insert(table).from_select(columns, source)
            conn.execute(_on_conflict(name, stmt))
        else:
            conn.execute(_on_conflict(name, self._dialect.insert(table)), rows)

    def recover_in_progress(
        self, worker_id: str, live_call_ids: Iterable[str] = (), now: dt.datetime | None = None
    ) -> list[str]:
        """End this worker's calls still ``in_progress`` (except those still live in Asterisk):
        disposition ``failed``, hang-up side ``unknown``, cause unknown; open legs ``failed``."""
        now = now or dt.datetime.now(dt.UTC)
        live = list(live_call_ids)
        with self.engine.begin() as conn:
            query = select(CALLS.c.call_id).where(
                and_(CALLS.c.worker_id == worker_id, CALLS.c.disposition == "in_progress")
            )
            if live:
                query = query.where(CALLS.c.call_id.not_in(live))
            ids = [row[0] for row in conn.execute(query.with_for_update())]
            if not ids:
                return []
            for call_id in ids:
                last = conn.execute(
                    select(EVENTS.c.at, EVENTS.c.seq)
                    .where(EVENTS.c.call_id == call_id)
                    .order_by(EVENTS.c.seq.desc())
                    .limit(1)
                ).first()
                ended = last[0] if last else None
                conn.execute(
                    update(CALLS)
                    .where(CALLS.c.call_id == call_id)
                    .values(
                        disposition="failed",
                        ended_at=ended or CALLS.c.updated_at,
                        hangup_side="unknown",
                        hangup_cause=None,
                        updated_at=now,
                    )
                )
                conn.execute(
                    update(LEGS)
                    .where(and_(LEGS.c.call_id == call_id, LEGS.c.ended_at.is_(None)))
                    .values(ended_at=ended or now, outcome="failed")
                )
                conn.execute(
                    EVENTS.insert().values(
                        call_id=call_id,
                        seq=(last[1] if last else 0) + 1,
                        at=now,
                        kind="call_end",
                        detail={"recovered": True, "worker_id": worker_id, "disposition": "failed"},
                    )
                )
            return ids

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("select 1"))
