"""The ``callcenter`` command line: thin click commands over the packages.

Errors are one line on stderr and a non-zero exit status: 2 for bad input (config, arguments),
1 for a failure while doing the work.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from callcenter import __version__
from callcenter.config import (
    CONFIG_ENV_VAR,
    CallCenterConfig,
    ConfigError,
    load_config,
    resolve_config_path,
)
from callcenter.errors import CallCenterError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def fail(message: str, status: int = EXIT_FAILURE, hint: str = "") -> NoReturn:
    """Print one clear line per problem on stderr, each starting ``error:`` (then the
    ``hint:``, if any), and exit."""
    for line in message.splitlines() or [""]:
        click.echo(f"error: {line}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    sys.exit(status)


def maps_errors(func: F) -> F:
    """Turn our domain errors into a clear message and exit status, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            fail(exc.message, EXIT_BAD_INPUT)
        except CallCenterError as exc:
            fail(exc.message, EXIT_FAILURE)

    return wrapper  # type: ignore[return-value]


def config_option(func: F) -> F:
    """Adds ``--config PATH`` (default: $CALLCENTER_CONFIG, else ./callcenter.yaml)."""
    return click.option(
        "--config",
        "-c",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="callcenter.yaml to use [default: $CALLCENTER_CONFIG or ./callcenter.yaml]",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


DEMO_CONFIG = Path("var/demo/callcenter.yaml")
"""What ``callcenter demo`` (``make demo``) writes: its call center, pointed at its database."""


def missing_config_hint(config_path: str | None) -> str:
    """When no config was named and ./callcenter.yaml is not there: where to find one."""
    if config_path or os.environ.get(CONFIG_ENV_VAR) or resolve_config_path(None).exists():
        return ""
    if DEMO_CONFIG.is_file():
        return (
            f"the demo's records are read with -c {DEMO_CONFIG} "
            f"(or set {CONFIG_ENV_VAR}={DEMO_CONFIG})"
        )
    return (
        f"name the call center's file with -c PATH or {CONFIG_ENV_VAR} "
        "(examples/callcenter.yaml is a commented example)"
    )


def load(config_path: str | None) -> CallCenterConfig:
    """Load the config or exit 2 with the problems (and where a config is, if none was
    found)."""
    try:
        return load_config(config_path)
    except ConfigError as exc:
        fail(exc.message, EXIT_BAD_INPUT, missing_config_hint(config_path))


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="callcenter")
def main() -> None:
    """callcenter: an open-source contact center beside Asterisk (ARI + AMI)."""


@main.group()
def config() -> None:
    """Check the call center's configuration."""


@config.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@json_option
def config_check(path: str | None, as_json: bool) -> None:
    """Validate a callcenter.yaml: types, unknown keys and every cross reference."""
    file = resolve_config_path(path)
    try:
        cfg = load_config(file)
    except ConfigError as exc:
        if as_json:
            echo_json({"ok": False, **exc.as_dict()})
            sys.exit(EXIT_BAD_INPUT)
        fail(exc.message, EXIT_BAD_INPUT, missing_config_hint(path))
    summary = {
        "ok": True,
        "file": str(file),
        "name": cfg.name,
        "agents": len(cfg.agents),
        "queues": sorted(cfg.queues),
        "menus": len(cfg.ivr.menus),
        "numbers": sorted(cfg.ivr.numbers),
    }
    numbers = ", ".join(sorted(cfg.ivr.numbers))
    if as_json:
        echo_json(summary)
    else:
        click.echo(
            f"{file}: OK ({summary['agents']} agents, {len(cfg.queues)} queues, "
            f"{summary['menus']} IVR menus, numbers {numbers})"
        )


@main.group()
def db() -> None:
    """Create and migrate the database (SQLite or PostgreSQL)."""


def _database_url(config_path: str | None, url: str | None) -> str:
    if url:
        from callcenter.config import DatabaseSettings

        try:
            return DatabaseSettings(url=url).url
        except ValueError as exc:
            fail(f"--url: {exc}", EXIT_BAD_INPUT)
    return load(config_path).database.url


def url_option(func: F) -> F:
    return click.option(
        "--url", default=None, help="Database URL (overrides database.url of the config)."
    )(func)


@db.command("upgrade")
@config_option
@url_option
@click.option("--revision", default="head", show_default=True)
@maps_errors
def db_upgrade(config_path: str | None, url: str | None, revision: str) -> None:
    """Apply migrations up to REVISION (on PostgreSQL this also creates the asterisk_cdr table
    Asterisk's cdr_pgsql writes into: Asterisk 22 does not start without it; and encrypt TOTP
    secrets an older version stored in plain text, when the config has web.session_secret)."""
    from callcenter.db.engine import current_revision, head_revision, make_engine, upgrade
    from callcenter.db.users import user_store

    database_url = _database_url(config_path, url)
    upgrade(database_url, revision)
    if url is None and revision in {"head", head_revision()}:
        engine = make_engine(database_url)
        try:
            sealed = user_store(engine, load(config_path)).seal_totp_secrets()
        finally:
            engine.dispose()
        if sealed:
            click.echo(f"encrypted {sealed} TOTP secret(s) stored in plain text")
    click.echo(f"database at revision {current_revision(database_url)}")
    if revision == "head" and database_url.startswith("postgresql"):
        click.echo("table asterisk_cdr ready for cdr_pgsql")


@db.command("downgrade")
@config_option
@url_option
@click.argument("revision")
@maps_errors
def db_downgrade(config_path: str | None, url: str | None, revision: str) -> None:
    """Revert migrations down to REVISION ('base' removes every table)."""
    from callcenter.db.engine import current_revision, downgrade

    database_url = _database_url(config_path, url)
    downgrade(database_url, revision)
    click.echo(f"database at revision {current_revision(database_url) or 'base'}")


@db.command("current")
@config_option
@url_option
@json_option
@maps_errors
def db_current(config_path: str | None, url: str | None, as_json: bool) -> None:
    """Show the database's revision and the newest one available."""
    from callcenter.db.engine import current_revision, head_revision

    database_url = _database_url(config_path, url)
    info = {"current": current_revision(database_url), "head": head_revision()}
    if as_json:
        echo_json(info)
    else:
        click.echo(f"current {info['current'] or 'base'}, head {info['head']}")


from callcenter.cli_agents import agent as _agent_group  # noqa: E402
from callcenter.cli_agents import status as _status_command  # noqa: E402

main.add_command(_agent_group)
main.add_command(_status_command)

from callcenter import cli_users  # noqa: E402


@main.command("demo")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Call center to simulate [default: examples/callcenter.yaml].",
)
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Synthetic callers and agents [default: examples/scenario-demo.yaml].",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0.1, max=100),
    default=10.0,
    show_default=True,
    help="Simulated seconds per real second.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="Stop after this many real seconds even if callers remain.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Where the demo keeps its SQLite database, spool and recordings.",
)
@click.option(
    "--web-port", type=int, default=8080, show_default=True, help="Web pages (0 = any free port)."
)
@click.option("--plain", is_flag=True, help="Print progress lines instead of the live view.")
@click.option(
    "--exit",
    "exit_after",
    is_flag=True,
    help="Exit after the summary instead of keeping the web pages up (for scripts).",
)
@maps_errors
def demo_command(
    config_path: Path | None,
    scenario_path: Path | None,
    speed: float,
    duration: float,
    state_dir: Path,
    web_port: int,
    plain: bool,
    exit_after: bool,
) -> None:
    """Run the call center against a simulated Asterisk 22 with synthetic callers and agents.

    Each run starts from an empty database. After the summary the web pages stay up with the
    run's records until Ctrl-C (or Enter); --exit ends the demo there instead."""
    from callcenter.demo import DEFAULT_CONFIG, DEFAULT_SCENARIO, DemoOptions, main_sync

    options = DemoOptions(
        config_path=config_path or DEFAULT_CONFIG,
        scenario_path=scenario_path or DEFAULT_SCENARIO,
        speed=speed,
        duration=duration,
        state_dir=state_dir,
        live=not plain,
        web_port=web_port,
        stay_up=not exit_after,
    )
    try:
        status = main_sync(options)
    except OSError as exc:
        fail(f"cannot start the demo: {exc}")
    sys.exit(status)


main.add_command(cli_users.users)

from callcenter.cli_sim import run_command as _run_command  # noqa: E402
from callcenter.cli_sim import sim_command as _sim_command  # noqa: E402

main.add_command(_sim_command)
main.add_command(_run_command)

from callcenter import cli_dialplan  # noqa: E402

main.add_command(cli_dialplan.dialplan)

from callcenter import cli_cdr  # noqa: E402

main.add_command(cli_cdr.report)
main.add_command(cli_cdr.recordings)
main.add_command(cli_cdr.cdr)

from callcenter import cli_prompts  # noqa: E402

main.add_command(cli_prompts.prompts)

from callcenter.cli_doctor import doctor as _doctor_command  # noqa: E402

main.add_command(_doctor_command)

from callcenter import cli_voicemail  # noqa: E402

main.add_command(cli_voicemail.voicemail)
