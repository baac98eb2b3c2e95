"""Compare Asterisk's own CDR (``asterisk_cdr`` table written by ``cdr_pgsql``, as the
rendered ``cdr_pgsql.conf`` says) with our ``calls``.

Asterisk writes one CDR row per channel pair (the caller's, each agent leg's...), all
sharing the caller channel's ``linkedid``; our ``calls`` row keeps the caller channel's
``channel_uniqueid`` and ``linkedid``. A call matches when our ``linkedid`` (or uniqueid) is an
Asterisk ``linkedid``. Differences reported:

- ``asterisk_only``: Asterisk saw a call we have no record of (a lost CDR: must never happen);
- ``ours_only``: we have a call Asterisk did not record (cdr_pgsql down, or a simulated PBX);
- ``start`` / ``duration``: the start, or the caller channel's total duration, differ by more
  than the tolerance (clocks, or a call we ended wrongly);
- ``caller``: the caller number differs.

``compare`` is pure; ``load_*`` read the two tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, and_, inspect, select, text

from callcenter.cdr.store import CALLS
from callcenter.db.asterisk_cdr import (
    ASTERISK_CDR_TABLE,
)
from callcenter.errors import CallCenterError


class ReconcileError(CallCenterError):
    code = "cdr-reconcile-failed"


@dataclass(frozen=True)
class AsteriskCdr:
    calldate: dt.datetime
    src: str
    dst: str
    duration: int
    billsec: int
    disposition: str
    uniqueid: str
    linkedid: str


@dataclass(frozen=True)
class OurCall:
    call_id: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    caller_number: str | None
    channel_uniqueid: str | None
    linkedid: str | None


@dataclass
class Difference:
    kind: str
    linkedid: str
    call_id: str | None
    ours: Any = None
    asterisk: Any = None


@dataclass
class ReconcileReport:
    matched: int = 0
    asterisk_calls: int = 0
    our_calls: int = 0
    differences: list[Difference] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(
    asterisk: list[AsteriskCdr], ours: list[OurCall], tolerance_seconds: float = 2.0
) -> ReconcileReport:
    """Match both sides by linkedid and list what differs."""
    by_linkedid: dict[str, list[AsteriskCdr]] = {}
    for row in asterisk:
        by_linkedid.setdefault(row.linkedid or row.uniqueid, []).append(row)
    report = ReconcileReport(asterisk_calls=len(by_linkedid), our_calls=len(ours))
    seen: set[str] = set()
    for call in ours:
        key = call.linkedid or call.channel_uniqueid or ""
        rows = by_linkedid.get(key)
        if not rows:
            report.differences.append(Difference("ours_only", key, call.call_id))
            continue
        seen.add(key)
        report.matched += 1
        # The caller channel's own row: uniqueid == linkedid (the first channel of the call).
        first = next((r for r in rows if r.uniqueid == key), min(rows, key=lambda r: r.calldate))
        gap = abs((call.started_at - first.calldate).total_seconds())
        if gap > tolerance_seconds:
            report.differences.append(
                Difference("start", key, call.call_id, call.started_at, first.calldate)
            )
        if call.ended_at is not None:
            ours_duration = (call.ended_at - call.started_at).total_seconds()
            if abs(ours_duration - first.duration) > tolerance_seconds:
                report.differences.append(
                    Difference(
                        "duration", key, call.call_id, round(ours_duration, 1), first.duration
                    )
                )
        if call.caller_number and first.src and call.caller_number != first.src:
            report.differences.append(
                Difference("caller", key, call.call_id, call.caller_number, first.src)
            )
    for key, rows in by_linkedid.items():
        if key not in seen:
            report.differences.append(
                Difference("asterisk_only", key, None, None, rows[0].calldate)
            )
    return report


def load_asterisk_cdr(
    engine: Engine, since: dt.datetime, until: dt.datetime, table: str = ASTERISK_CDR_TABLE
) -> list[AsteriskCdr]:
    if not inspect(engine).has_table(table):
        raise ReconcileError(
            f"no table {table!r} in the database: is Asterisk's cdr_pgsql writing here? "
            "(callcenter db upgrade creates it, as does callcenter cdr init-asterisk-table)",
            table=table,
        )
    query = text(
        f"SELECT calldate, src, dst, duration, billsec, disposition, uniqueid, linkedid "
        f"FROM {table} WHERE calldate >= :since AND calldate < :until"
    )
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query, {"since": since, "until": until})]
    for row in rows:
        if row["calldate"].tzinfo is None:  # a ``timestamp`` column: cdr_pgsql writes UTC
            row["calldate"] = row["calldate"].replace(tzinfo=dt.UTC)
    return [AsteriskCdr(**row) for row in rows]


def load_our_calls(engine: Engine, since: dt.datetime, until: dt.datetime) -> list[OurCall]:
    c = CALLS.c
    query = select(
        c.call_id, c.started_at, c.ended_at, c.caller_number, c.channel_uniqueid, c.linkedid
    ).where(and_(c.started_at >= since, c.started_at < until))
    with engine.connect() as conn:
        return [OurCall(**row._mapping) for row in conn.execute(query)]
