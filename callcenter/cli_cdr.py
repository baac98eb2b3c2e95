"""``callcenter report``, ``callcenter recordings ...`` and ``callcenter cdr ...``: thin click
commands over ``callcenter.cdr`` and ``callcenter.recording``.

Times (``--since``/``--until``) are ISO dates or datetimes (``2026-11-25``,
``2026-11-25T09:00``, in the config's time zone unless they carry an offset) or ages
(``30m``, ``24h``, ``7d``: that long ago).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sys
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from callcenter.cli import (
    EXIT_BAD_INPUT,
    config_option,
    echo_json,
    fail,
    json_option,
    load,
    maps_errors,
)
from callcenter.cli_tables import format_cell, print_table
from callcenter.config import CallCenterConfig

F = TypeVar("F", bound=Callable[..., Any])

_AGE = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_when(value: str | None, tz: str, default: dt.datetime) -> dt.datetime:
    """An ISO date/datetime (local to ``tz`` when naive) or an age like ``7d``."""
    if value is None:
        return default
    match = _AGE.fullmatch(value.strip())
    if match:
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        return dt.datetime.now(dt.UTC) - dt.timedelta(**{unit: amount})
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(
            f"cannot read the time {value!r}: use 2026-11-25, 2026-11-25T09:00 or 7d",
            EXIT_BAD_INPUT,
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(tz))
    return moment.astimezone(dt.UTC)


def _window(
    cfg: CallCenterConfig, since: str | None, until: str | None
) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    start = parse_when(since, cfg.timezone, now - dt.timedelta(days=1))
    end = parse_when(until, cfg.timezone, now + dt.timedelta(seconds=1))
    if start >= end:
        fail("--since must be before --until", EXIT_BAD_INPUT)
    return start, end


COLUMN_LABELS = {
    "started_at": "started (UTC)",
    "duration_seconds": "length s",
    "agent_id": "agent",
    "queue_id": "queue",
    "caller_number": "caller",
    "disposition": "outcome",
}
"""Short headers for the text tables; CSV and JSON keep the field names."""


def _table(
    rows: list[dict[str, Any]],
    columns: list[str],
    title: str | None = None,
    labels: dict[str, str] | None = None,
    more: str = "--json",
) -> None:
    print_table(rows, columns, title=title, labels={**COLUMN_LABELS, **(labels or {})}, more=more)


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> None:
    from callcenter.csv_export import write_csv

    click.echo(write_csv(rows, columns, lineterminator="\n"), nl=False)


def _time_options(func: F) -> F:
    func = click.option("--until", default=None, help="End (exclusive) [default: now].")(func)
    return click.option(
        "--since", default=None, help="Start: ISO time or age like 7d [default: 24h ago]."
    )(func)


# --- report -----------------------------------------------------------------------------------

KPI_LABELS = {
    "short_abandoned": "short ab.",
    "ring_no_answer": "no answer",
    "service_level": "SL %",
    "abandon_rate": "aband. %",
    "asa_seconds": "ASA s",
    "aht_seconds": "AHT s",
    "occupancy": "occup. %",
    "longest_wait_seconds": "max wait s",
}
"""Short headers for the text table; CSV and JSON keep the field names."""

KPI_COLUMNS = [
    "group",
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "overflowed",
    "rung",
    "ring_no_answer",
    "service_level",
    "abandon_rate",
    "asa_seconds",
    "aht_seconds",
    "occupancy",
    "longest_wait_seconds",
    "transfers",
]

KPI_TEXT_COLUMNS = [
    "group",
    "offered",
    "answered",
    "abandoned",
    "service_level",
    "asa_seconds",
    "aht_seconds",
    "abandon_rate",
    "longest_wait_seconds",
    "occupancy",
    "short_abandoned",
    "overflowed",
    "rung",
    "ring_no_answer",
    "transfers",
]
"""The same columns, most read first: a narrow terminal shows those that fit."""


@click.command("report")
@config_option
@_time_options
@click.option(
    "--by",
    type=click.Choice(["queue", "agent", "hour", "day", "total"]),
    default="queue",
    show_default=True,
)
@click.option(
    "--short-abandon", default=5.0, show_default=True, help="Seconds: shorter abandons are 'short'."
)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@json_option
@click.option(
    "--plot",
    "plot_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write a PNG chart.",
)
@maps_errors
def _report(
    config_path: str | None,
    since: str | None,
    until: str | None,
    by: str,
    short_abandon: float,
    as_csv: bool,
    as_json: bool,
    plot_file: str | None,
) -> None:
    """Contact-center KPIs (docs/kpis.md) per queue, agent, hour or day."""
    from callcenter.cdr.report import build_report

    cfg = load(config_path)
    start, end = _window(cfg, since, until)
    rows = build_report(cfg.database.url, cfg, by, start, end, short_abandon_seconds=short_abandon)
    if plot_file:
        from callcenter.cdr.plot import plot_kpis

        series = (
            rows
            if by in {"hour", "day"}
            else build_report(
                cfg.database.url, cfg, "hour", start, end, short_abandon_seconds=short_abandon
            )
        )
        plot_kpis(series, plot_file)
    data = [row.as_dict() for row in rows]
    if as_json:
        echo_json({"since": start.isoformat(), "until": end.isoformat(), "by": by, "rows": data})
    elif as_csv:
        _csv(data, KPI_COLUMNS)
    else:
        _table(
            data,
            KPI_TEXT_COLUMNS,
            title=f"KPIs by {by}, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC",
            labels=KPI_LABELS,
            more="--csv or --json",
        )
    if plot_file:
        click.echo(f"chart written to {plot_file}", err=True)


# --- recordings -------------------------------------------------------------------------------


recordings: click.Group = click.Group(
    "recordings", help="Find, show, play, export, verify and purge call recordings (QA)."
)


def _engine(cfg: CallCenterConfig) -> Any:
    from callcenter.cdr.store import cdr_engine

    return cdr_engine(cfg.database.url)


def _filter_options(func: F) -> F:
    for option in reversed(
        [
            click.option("--agent", default=None, help="Agent id."),
            click.option("--queue", default=None, help="Queue id."),
            click.option("--caller", default=None, help="Caller number (or part of it)."),
            click.option("--disposition", default=None, help="answered, abandoned_queue..."),
            click.option("--min-duration", type=float, default=None, help="Seconds."),
            click.option(
                "--kind",
                type=click.Choice(["call", "voicemail"]),
                default=None,
                help="Conversations or voicemail messages [default: both].",
            ),
            click.option("--limit", type=int, default=1000, show_default=True),
        ]
    ):
        func = option(func)
    return _time_options(func)


def _find(
    cfg: CallCenterConfig, since: str | None, until: str | None, **filters: Any
) -> list[dict[str, Any]]:
    from callcenter.cdr.queries import RecordingFilter, list_recordings

    start = parse_when(since, cfg.timezone, dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
    end = parse_when(until, cfg.timezone, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    engine = _engine(cfg)
    try:
        return list_recordings(engine, RecordingFilter(since=start, until=end, **filters))
    finally:
        engine.dispose()


LIST_COLUMNS = [
    "call_id",
    "kind",
    "started_at",
    "duration_seconds",
    "agent_id",
    "queue_id",
    "caller_number",
    "disposition",
    "format",
]


@recordings.command("list")
@config_option
@_filter_options
@json_option
@maps_errors
def recordings_list(
    config_path: str | None, since: str | None, until: str | None, as_json: bool, **filters: Any
) -> None:
    """Recordings matching the filters, newest first."""
    cfg = load(config_path)
    rows = _find(cfg, since, until, **filters)
    if as_json:
        echo_json(rows)
    else:
        _table(rows, LIST_COLUMNS)


def _detail(cfg: CallCenterConfig, call_id: str) -> dict[str, Any]:
    from callcenter.cdr.queries import call_detail

    engine = _engine(cfg)
    try:
        detail = call_detail(engine, call_id)
    finally:
        engine.dispose()
    if detail is None:
        fail(f"no call {call_id!r}")
    return detail


@recordings.command("show")
@config_option
@click.argument("call_id")
@json_option
@maps_errors
def recordings_show(config_path: str | None, call_id: str, as_json: bool) -> None:
    """A call's CDR, legs, events and recordings together."""
    detail = _detail(load(config_path), call_id)
    if as_json:
        echo_json(detail)
        return
    call = detail["call"]
    for key in (
        "call_id",
        "caller_number",
        "dialled_number",
        "started_at",
        "answered_at",
        "ended_at",
        "queue_id",
        "wait_seconds",
        "agent_id",
        "talk_seconds",
        "hold_seconds",
        "wrapup_seconds",
        "disposition",
        "hangup_side",
        "hangup_cause",
        "transfers",
        "ivr_path",
        "recording_name",
    ):
        click.echo(f"{key:>16}: {format_cell(call.get(key))}")
    _table(
        detail["legs"],
        [
            "seq",
            "agent_id",
            "endpoint",
            "rang_at",
            "answered_at",
            "ended_at",
            "outcome",
            "hangup_cause",
        ],
        "legs",
    )
    _table(detail["events"], ["seq", "at", "kind", "detail"], "events")
    _table(
        detail["recordings"],
        ["name", "started_at", "duration_seconds", "format", "size_bytes", "sha256", "storage_url"],
        "recordings",
    )


@recordings.command("play")
@config_option
@click.argument("call_id")
@maps_errors
def recordings_play(config_path: str | None, call_id: str) -> None:
    """Play a call's recording with `play` (sox) or `aplay`, else say where the file is."""
    from callcenter.cli_prompts import play_locally
    from callcenter.recording.storage import path_of

    detail = _detail(load(config_path), call_id)
    if not detail["recordings"]:
        fail(f"call {call_id} has no recording")
    for rec in detail["recordings"]:
        if not rec["storage_url"]:
            fail(f"recording {rec['name']} was not fetched from Asterisk (it is still there)")
        path = path_of(rec["storage_url"])
        if not path.is_file():
            fail(f"recording {rec['name']} is missing: {path}")
        play_locally(path, rec["duration_seconds"])


@recordings.command("export")
@config_option
@_filter_options
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to copy into.",
)
@maps_errors
def recordings_export(
    config_path: str | None, since: str | None, until: str | None, out_dir: str, **filters: Any
) -> None:
    """Copy matching recordings into a directory (with manifest.json), checking each checksum."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from callcenter.recording.storage import path_of, sha256_of

    cfg = load(config_path)
    rows = _find(cfg, since, until, **filters)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = sum(row["size_bytes"] or 0 for row in rows)
    manifest, problems = [], []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        disable=not sys.stderr.isatty(),
    ) as progress:
        task = progress.add_task("exporting", total=total)
        for row in rows:
            if not row["storage_url"]:
                problems.append(f"{row['name']}: not fetched from Asterisk yet")
                continue
            source = path_of(row["storage_url"])
            target = out / source.name
            if not source.is_file():
                problems.append(f"{row['name']}: file missing at {source}")
                continue
            shutil.copy2(source, target)
            if sha256_of(target) != row["sha256"]:
                problems.append(f"{row['name']}: checksum mismatch")
            manifest.append(
                {
                    k: row[k]
                    for k in (
                        "call_id",
                        "name",
                        "agent_id",
                        "queue_id",
                        "caller_number",
                        "disposition",
                        "duration_seconds",
                        "sha256",
                    )
                }
                | {"file": target.name}
            )
            progress.advance(task, row["size_bytes"] or 0)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    click.echo(f"exported {len(manifest)} recording(s) to {out}")
    if problems:
        fail("; ".join(problems))


@recordings.command("verify")
@config_option
@json_option
@maps_errors
def recordings_verify(config_path: str | None, as_json: bool) -> None:
    """Check every stored recording's file against its SHA-256; exit 1 if any is wrong."""
    from callcenter.cdr.queries import all_recordings
    from callcenter.recording.storage import LocalStorage

    cfg = load(config_path)
    engine = _engine(cfg)
    try:
        rows = all_recordings(engine)
    finally:
        engine.dispose()
    storage = LocalStorage(cfg.recordings.directory)
    results = [
        {
            "name": r["name"],
            "call_id": r["call_id"],
            # No URL: Asterisk finished it but we could not fetch it (still in Asterisk).
            "status": storage.verify(r["storage_url"], r["sha256"])
            if r["storage_url"]
            else "not-fetched",
        }
        for r in rows
    ]
    bad = [r for r in results if r["status"] != "ok"]
    if as_json:
        echo_json({"checked": len(results), "bad": bad})
    else:
        for r in bad:
            click.echo(f"{r['name']} (call {r['call_id']}): {r['status']}")
        click.echo(f"{len(results)} recording(s) checked, {len(bad)} bad")
    if bad:
        sys.exit(1)


@recordings.command("fetch")
@config_option
@json_option
@maps_errors
def recordings_fetch(config_path: str | None, as_json: bool) -> None:
    """Fetch recordings still in Asterisk (their fetch failed when they finished)."""
    import asyncio

    from callcenter.asterisk.ari import AriClient, AriSettings
    from callcenter.recording.fetch import fetch_pending
    from callcenter.recording.storage import LocalStorage

    cfg = load(config_path)
    ari_cfg = cfg.asterisk.ari
    settings = AriSettings(
        ari_cfg.url,
        ari_cfg.username,
        ari_cfg.password,
        ari_cfg.app,
        request_timeout=cfg.asterisk.request_timeout,
    )

    async def fetch() -> Any:
        ari = AriClient(settings, lambda event: None)
        try:
            await ari.connect(max_attempts=3)  # REST only: the worker keeps its WebSocket
            return await fetch_pending(
                ari, LocalStorage(cfg.recordings.directory), cfg.database.url
            )
        finally:
            await ari.close()

    result = asyncio.run(fetch())
    if result.fetched:
        from callcenter.voicemail.store import measure_fetched

        # Voicemail messages fetched late get their sound measured now.
        engine = _engine(cfg)
        try:
            minimum = {box_id: box.min_sound_seconds for box_id, box in cfg.voicemail.items()}
            measure_fetched(engine, result.fetched, minimum)
        finally:
            engine.dispose()
    if as_json:
        echo_json(result.__dict__)
    else:
        click.echo(
            f"fetched {len(result.fetched)}, gone from Asterisk {len(result.gone)}, "
            f"failed {len(result.failed)}"
        )
    if result.failed:
        sys.exit(1)


@recordings.command("purge")
@config_option
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@json_option
@maps_errors
def recordings_purge(config_path: str | None, dry_run: bool, as_json: bool) -> None:
    """Delete recordings past their retention (file and row; the CDR stays)."""
    from callcenter.recording.retention import purge_expired
    from callcenter.recording.storage import LocalStorage

    cfg = load(config_path)
    result = purge_expired(
        cfg.database.url, LocalStorage(cfg.recordings.directory), dry_run=dry_run
    )
    if as_json:
        echo_json({"dry_run": dry_run, **result.__dict__})
    else:
        verb = "would delete" if dry_run else "deleted"
        click.echo(f"{verb} {len(result.deleted)} expired recording(s)")
    if result.failed:
        fail(f"could not delete: {', '.join(result.failed)}")


# --- cdr --------------------------------------------------------------------------------------


cdr: click.Group = click.Group("cdr", help="Asterisk's own CDR next to ours (cdr_pgsql).")


@cdr.command("reconcile")
@config_option
@_time_options
@click.option(
    "--tolerance", default=2.0, show_default=True, help="Seconds of clock/rounding slack."
)
@click.option("--table", default="asterisk_cdr", show_default=True, help="Asterisk's CDR table.")
@json_option
@maps_errors
def cdr_reconcile(
    config_path: str | None,
    since: str | None,
    until: str | None,
    tolerance: float,
    table: str,
    as_json: bool,
) -> None:
    """Compare Asterisk's CDR rows (by linkedid) with our calls; exit 1 on differences."""
    from callcenter.cdr.reconcile import compare, load_asterisk_cdr, load_our_calls

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", table):  # written into SQL: the whole name
        fail(f"--table: {table!r} is not a table name", EXIT_BAD_INPUT)
    cfg = load(config_path)
    start, end = _window(cfg, since, until)
    engine = _engine(cfg)
    try:
        result = compare(
            load_asterisk_cdr(engine, start, end, table),
            load_our_calls(engine, start, end),
            tolerance,
        )
    finally:
        engine.dispose()
    if as_json:
        echo_json(result.as_dict())
    else:
        click.echo(
            f"{result.matched} matched, {result.asterisk_calls} in Asterisk's cdr, "
            f"{result.our_calls} in ours, "
            f"{len(result.differences)} difference(s)"
        )
        if result.differences:
            _table(
                [d.__dict__ for d in result.differences],
                ["kind", "linkedid", "call_id", "ours", "asterisk"],
            )
    if result.differences:
        sys.exit(1)


@cdr.command("init-asterisk-table")
@config_option
@maps_errors
def cdr_init_asterisk_table(config_path: str | None) -> None:
    """Create the `asterisk_cdr` table Asterisk's cdr_pgsql writes into (PostgreSQL only)."""
    from callcenter.db.asterisk_cdr import create_asterisk_cdr_table

    cfg = load(config_path)
    if not cfg.database.url.startswith("postgresql"):
        fail("cdr_pgsql needs PostgreSQL: database.url is not a postgresql:// URL", EXIT_BAD_INPUT)
    engine = _engine(cfg)
    try:
        create_asterisk_cdr_table(engine)
    finally:
        engine.dispose()
    click.echo("table asterisk_cdr ready for cdr_pgsql")


report: click.Command = _report


@cdr.command("spool")
@config_option
@json_option
@maps_errors
def cdr_spool(config_path: str | None, as_json: bool) -> None:
    """Records waiting in each worker's CDR spool, and rows the database rejected."""
    from callcenter.cdr.spool import read_segment
    from callcenter.cdr.writer import REJECTED_FILE

    cfg = load(config_path)
    rows = []
    for directory in sorted(Path(cfg.database.spool_dir).glob("cdr-*")):
        pending = sum(
            len(batch)
            for seg in sorted(directory.glob("seg-*.jsonl"))
            for batch in read_segment(seg)
        )
        rejected = directory / REJECTED_FILE
        count = len(rejected.read_bytes().splitlines()) if rejected.is_file() else 0
        rows.append(
            {"worker": directory.name.removeprefix("cdr-"), "pending": pending, "rejected": count}
        )
    if as_json:
        echo_json(rows)
    elif not rows:
        click.echo(f"no CDR spool under {cfg.database.spool_dir}")
    else:
        _table(rows, ["worker", "pending", "rejected"])


@cdr.command("replay")
@config_option
@click.option("--worker", "worker_id", required=True, help="Whose spool (cdr-<worker>).")
@click.option("--within", default=60.0, show_default=True, help="Seconds to keep trying.")
@maps_errors
def cdr_replay(config_path: str | None, worker_id: str, within: float) -> None:
    """Move a stopped worker's spooled CDRs into the database (e.g. a retired host)."""
    import asyncio

    from callcenter.cdr.writer import CdrWriter

    cfg = load(config_path)

    async def replay() -> tuple[bool, int]:
        writer = CdrWriter.from_config(cfg, worker_id)
        await writer.start()  # refuses if that worker is running (the spool is locked)
        try:
            done = await writer.drain_spool(within)
        finally:
            await writer.close()
        return done, writer.stats.replayed

    done, replayed = asyncio.run(replay())
    if not done:
        fail(f"the database did not take the spool within {within:.0f} s ({replayed} rows moved)")
    click.echo(f"replayed {replayed} CDR row(s) from worker {worker_id}'s spool")
