"""``callcenter voicemail list|play|handle|callback``: thin click commands over
``callcenter.voicemail.store``.

A message is named by its recording name (``voicemail-sales-<call id>``, as ``list`` prints
it) or by the id of the call it was left in.
"""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Any

import click

from callcenter.cli import config_option, echo_json, fail, json_option, load, maps_errors
from callcenter.cli_cdr import _engine, _table, _time_options, parse_when
from callcenter.config import CallCenterConfig

voicemail: click.Group = click.Group(
    "voicemail", help="Messages callers left: list, play, mark handled, ask for a call back."
)

LIST_COLUMNS = [
    "recording_name",
    "left_at",
    "mailbox",
    "caller_number",
    "duration_seconds",
    "sound_seconds",
    "empty",
    "status",
    "handled_by",
]


def _with_engine(cfg: CallCenterConfig, job: Any, *args: Any) -> Any:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    engine = _engine(cfg)
    try:
        return job(engine, *args)
    except (OperationalError, ProgrammingError) as exc:
        fail(
            f"cannot read the database ({str(exc.orig).strip()}): is it up, and migrated "
            "(callcenter db upgrade)?"
        )
    finally:
        engine.dispose()


def _by_option(func: Any) -> Any:
    return click.option(
        "--by",
        default=None,
        help="Who does it (as the inbox shows it) [default: your login name].",
    )(func)


def _who(by: str | None) -> str:
    return (by or getpass.getuser())[:64]


@voicemail.command("list")
@config_option
@click.option("--box", default=None, help="One voicemail box.")
@click.option(
    "--status",
    type=click.Choice(["new", "handled", "all"]),
    default="new",
    show_default=True,
)
@click.option("--caller", default=None, help="Caller number (or part of it).")
@_time_options
@click.option("--limit", type=int, default=200, show_default=True)
@json_option
@maps_errors
def voicemail_list(
    config_path: str | None,
    box: str | None,
    status: str,
    caller: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Messages, newest first (new ones unless --status says otherwise)."""
    from callcenter.voicemail.store import MessageFilter, list_messages

    cfg = load(config_path)
    if box is not None and box not in cfg.voicemail:
        known = ", ".join(sorted(cfg.voicemail)) or "none configured"
        raise click.BadParameter(f"no voicemail box {box!r} (boxes: {known})", param_hint="--box")
    start = parse_when(since, cfg.timezone, dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
    end = parse_when(until, cfg.timezone, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    where = MessageFilter(
        boxes=frozenset({box}) if box else None,
        status=None if status == "all" else status,
        caller=caller,
        since=start,
        until=end,
        limit=limit,
    )
    rows = _with_engine(cfg, list_messages, where)
    if as_json:
        echo_json(rows)
    else:
        _table(rows, LIST_COLUMNS, labels={"recording_name": "message"})


@voicemail.command("play")
@config_option
@click.argument("message")
@maps_errors
def voicemail_play(config_path: str | None, message: str) -> None:
    """Play a message with `play` (sox) or `aplay`, else say where the file is."""
    from callcenter.cli_prompts import play_locally
    from callcenter.recording.storage import path_of
    from callcenter.voicemail.store import find_message

    found = _with_engine(load(config_path), find_message, message)
    if not found["storage_url"]:
        fail(
            f"message {found['recording_name']} is still in Asterisk: "
            "`callcenter recordings fetch` brings it"
        )
    path = path_of(found["storage_url"])
    if not path.is_file():
        fail(f"message {found['recording_name']} is missing: {path}")
    play_locally(path, found["duration_seconds"])


@voicemail.command("handle")
@config_option
@click.argument("message")
@click.option("--note", default=None, help="What was done (called back, wrong number...).")
@_by_option
@json_option
@maps_errors
def voicemail_handle(
    config_path: str | None, message: str, note: str | None, by: str | None, as_json: bool
) -> None:
    """Mark a message handled (refused if someone already did)."""
    from callcenter.voicemail.store import find_message, mark_handled

    cfg = load(config_path)
    name = _with_engine(cfg, find_message, message)["recording_name"]
    done = _with_engine(cfg, mark_handled, name, _who(by), note, dt.datetime.now(dt.UTC))
    if as_json:
        echo_json(done)
    else:
        click.echo(f"{name}: handled by {done['handled_by']}")


@voicemail.command("callback")
@config_option
@click.argument("message")
@click.option("--note", default=None, help="For whoever calls back.")
@_by_option
@json_option
@maps_errors
def voicemail_callback(
    config_path: str | None, message: str, note: str | None, by: str | None, as_json: bool
) -> None:
    """Ask the outbound dialer to call the message's caller back (a pending request)."""
    from callcenter.voicemail.store import find_message, request_callback

    cfg = load(config_path)
    name = _with_engine(cfg, find_message, message)["recording_name"]
    request = _with_engine(cfg, request_callback, name, _who(by), note, dt.datetime.now(dt.UTC))
    if as_json:
        echo_json(request)
    else:
        click.echo(f"{name}: call back of {request['number']} requested (pending)")
