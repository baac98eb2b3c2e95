"""``callcenter dialplan``: render, diff, check, deploy and roll back Asterisk's config files.

Thin click commands over :mod:`callcenter.dialplan`. Exit status: 0 done (``diff``: no
difference), 1 failure (``diff``: files differ; ``check``: problems found; a reload failed),
2 bad input (config, a placeholder secret, lint problems refusing a deploy).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from callcenter.cli import EXIT_FAILURE, config_option, echo_json, json_option, load, maps_errors
from callcenter.cli_prompts import build_dir_option, run_build, sounds_dir_option
from callcenter.config import CallCenterConfig
from callcenter.dialplan import check as lint
from callcenter.dialplan import deploy as deployment
from callcenter.dialplan.render import render_files
from callcenter.doctor.local_checks import asterisk_cdr_check
from callcenter.doctor.run import DoctorOptions, run_doctor
from callcenter.prompts.build import BuiltPrompt
from callcenter.prompts.install import SOUNDS_RELOAD, InstallResult, install_prompts

F = TypeVar("F", bound=Callable[..., Any])


def _render_options(func: F) -> F:
    func = click.option(
        "--allow-insecure-defaults",
        is_flag=True,
        help="Render placeholder secrets (change-me-*) and demo SIP passwords: demos only.",
    )(func)
    func = click.option(
        "--templates",
        "templates_dir",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        default=None,
        help="Directory of the .j2 templates [default: the ones shipped with callcenter].",
    )(func)
    return config_option(func)


def _dir_option(func: F) -> F:
    return click.option(
        "--dir",
        "config_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Asterisk's config directory [default: asterisk.config_dir of the config].",
    )(func)


def _render(cfg: CallCenterConfig, templates_dir: Path | None, allow: bool) -> dict[str, str]:
    return render_files(cfg, allow_insecure_defaults=allow, templates_dir=templates_dir)


@contextlib.asynccontextmanager
async def connect_ami(cfg: CallCenterConfig) -> AsyncIterator[deployment.CommandRunner]:
    """An AMI session for the reloads (tests may replace this function)."""
    from callcenter.asterisk.ami import AmiClient

    ami = cfg.asterisk.ami
    client = AmiClient(
        ami.host,
        ami.port,
        ami.username,
        ami.secret,
        connect_timeout=cfg.asterisk.request_timeout,
        login_timeout=cfg.asterisk.request_timeout,
        # Reloading a large dialplan or pjsip.conf takes a while; it is not a hung Asterisk.
        action_timeout=max(cfg.asterisk.request_timeout, 30.0),
        connect_attempts=2,
        keepalive_interval=None,
        events=False,
    )
    await client.connect()
    try:
        yield client
    finally:
        await client.close()


@dataclass
class PromptsDeploy:
    """Our prompts' part of a deploy: built files, where they go, what changed."""

    prompts: dict[str, BuiltPrompt]
    build_dir: Path
    sounds_dir: Path
    installed: InstallResult = field(default_factory=InstallResult)
    reload: deployment.Reload | None = None


async def _deploy(
    cfg: CallCenterConfig, files: dict[str, str], config_dir: Path, prompts: PromptsDeploy | None
) -> Any:
    async with connect_ami(cfg) as runner:
        if prompts is not None:
            # Prompts first: the reloaded dialplan and menus may already play the new ones.
            prompts.installed = install_prompts(
                prompts.prompts, prompts.build_dir, prompts.sounds_dir
            )
            if prompts.installed.changed:
                (prompts.reload,) = await deployment.run_reloads_of(runner, [SOUNDS_RELOAD])
        return await deployment.deploy(files, config_dir, runner)


async def _rollback(cfg: CallCenterConfig, config_dir: Path, to: str | None) -> Any:
    async with connect_ami(cfg) as runner:
        return await deployment.rollback(config_dir, runner, to=to)


dialplan: click.Group = click.Group(
    "dialplan",
    help="Asterisk's config files (extensions.conf, pjsip.conf, ...) from callcenter.yaml.",
)


@dialplan.command("render")
@_render_options
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write the files into (created if needed).",
)
@maps_errors
def render_command(
    config_path: str | None,
    templates_dir: Path | None,
    allow_insecure_defaults: bool,
    out_dir: Path,
) -> None:
    """Write the rendered files into OUT (the same config always gives the same bytes; mode
    0640, never readable by others: they hold secrets)."""
    files = _render(load(config_path), templates_dir, allow_insecure_defaults)
    for path in deployment.write_files(files, out_dir):
        click.echo(str(path))


@dialplan.command("diff")
@_render_options
@_dir_option
@maps_errors
def diff_command(
    config_path: str | None,
    templates_dir: Path | None,
    allow_insecure_defaults: bool,
    config_dir: Path | None,
) -> None:
    """Show what deploy would change (unified diff, secrets masked); exit 1 when different."""
    cfg = load(config_path)
    files = _render(cfg, templates_dir, allow_insecure_defaults)
    text = deployment.unified_diff(files, config_dir or Path(cfg.asterisk.config_dir))
    if text:
        click.echo(text, nl=False)
        raise SystemExit(EXIT_FAILURE)


@dialplan.command("check")
@_render_options
@click.option(
    "--dir",
    "check_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Lint the .conf files in this directory instead of rendering them.",
)
@json_option
@maps_errors
def check_command(
    config_path: str | None,
    templates_dir: Path | None,
    allow_insecure_defaults: bool,
    check_dir: Path | None,
    as_json: bool,
) -> None:
    """Lint the rendered files (or those in --dir): syntax, priorities, includes, brackets."""
    if check_dir is not None:
        files = {p.name: p.read_text(encoding="utf-8") for p in sorted(check_dir.glob("*.conf"))}
    else:
        files = _render(load(config_path), templates_dir, allow_insecure_defaults)
    issues = lint.check_files(files)
    if as_json:
        echo_json({"ok": not issues, "files": sorted(files), "issues": [str(i) for i in issues]})
    else:
        for issue in issues:
            click.echo(str(issue))
        if not issues:
            click.echo(f"OK: {len(files)} files ({', '.join(sorted(files))})")
    if issues:
        raise SystemExit(EXIT_FAILURE)


@dialplan.command("deploy")
@_render_options
@_dir_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Lint and say what would be written and reloaded; change nothing.",
)
@click.option(
    "--no-doctor",
    is_flag=True,
    help="Skip the checks run before anything changes (ARI, AMI, core sounds, database).",
)
@sounds_dir_option
@build_dir_option
@maps_errors
def deploy_command(
    config_path: str | None,
    templates_dir: Path | None,
    allow_insecure_defaults: bool,
    config_dir: Path | None,
    dry_run: bool,
    no_doctor: bool,
    sounds_dir: Path | None,
    build_dir: Path,
) -> None:
    """Check, lint, back up, write the changed files atomically, install our prompts, reload
    over AMI; roll back on failure."""
    cfg = load(config_path)
    files = _render(cfg, templates_dir, allow_insecure_defaults)
    target = config_dir or Path(cfg.asterisk.config_dir)
    sounds = sounds_dir or Path(cfg.asterisk.sounds_dir)
    issues = lint.check_files(files)
    if issues:
        raise deployment.LintError(f"refusing to deploy, {len(issues)} problem(s): {issues[0]}")
    _refuse_without_asterisk_cdr(cfg, files)
    if dry_run:
        if cfg.prompts:
            click.echo(
                f"would build {len(cfg.prompts)} prompts and install the changed ones "
                f"into {sounds}/<language>/callcenter/"
            )
        changed = deployment.changed_files(files, target)
        for name in changed:
            click.echo(f"would write {target / name}")
        for command in deployment.reload_commands(changed):
            click.echo(f"would run: {command}")
        if not changed:
            click.echo(f"nothing to deploy: {target} is up to date")
        return
    if not no_doctor:
        _preflight(cfg)
    prompts = None
    if cfg.prompts or sounds.is_dir():
        built = run_build(cfg, config_path, build_dir)
        prompts = PromptsDeploy(built.prompts, build_dir, sounds)
    result = asyncio.run(_deploy(cfg, files, target, prompts))
    if prompts is not None:
        _echo_prompts(prompts)
    if not result.changed:
        click.echo(f"nothing to deploy: {target} is up to date")
        return
    click.echo(f"backup: {result.backup}")
    for name in result.changed:
        click.echo(f"wrote {target / name}")
    for reload in result.reloads:
        click.echo(f"{reload.command}: {' / '.join(reload.output) or 'ok'}")


def _refuse_without_asterisk_cdr(cfg: CallCenterConfig, files: dict[str, str]) -> None:
    """Asterisk 22 aborts at start when cdr_pgsql.conf names a missing table: never deploy it
    so (this one is not skipped by --no-doctor)."""
    if "cdr_pgsql.conf" not in files:
        return
    check = asterisk_cdr_check(cfg)
    if check is not None and not check.ok:
        raise deployment.DeployError(
            f"refusing to deploy: cdr_pgsql.conf is rendered, and database {check.name}: "
            f"{check.detail} (fix: {check.fix}); nothing was written"
        )


def _preflight(cfg: CallCenterConfig) -> None:
    """`callcenter doctor`'s checks that a deploy relies on and cannot fix itself."""
    report = asyncio.run(run_doctor(cfg, DoctorOptions(before_deploy=True, worker_url=None)))
    if report.ok:
        return
    for check in report.failures:
        click.echo(check.line(), err=True)
    raise deployment.DeployError(
        f"refusing to deploy: {len(report.failures)} check(s) failed (fix them, or skip the "
        "checks with --no-doctor); nothing was written"
    )


def _echo_prompts(prompts: PromptsDeploy) -> None:
    installed = prompts.installed
    if not installed.changed:
        click.echo(f"prompts: {prompts.sounds_dir} is up to date")
        return
    click.echo(
        f"prompts: wrote {len(installed.written)}, removed {len(installed.removed)} files in "
        f"{prompts.sounds_dir}"
    )
    if prompts.reload is not None:
        reload = prompts.reload
        click.echo(f"{reload.command}: {' / '.join(reload.output) or 'ok'}")
        if not reload.ok:
            click.echo(
                f"warning: {reload.command} failed ({reload.problem}): callers hear the new "
                "prompts, but ARI's /sounds lists them only after it succeeds",
                err=True,
            )


@dialplan.command("rollback")
@config_option
@_dir_option
@click.option("--to", "to", default=None, help="Backup name to restore [default: the newest].")
@click.option("--list", "list_only", is_flag=True, help="List the backups and exit.")
@maps_errors
def rollback_command(
    config_path: str | None, config_dir: Path | None, to: str | None, list_only: bool
) -> None:
    """Restore a backup made by deploy (the newest by default) and reload what it changes."""
    cfg = load(config_path)
    target = config_dir or Path(cfg.asterisk.config_dir)
    if list_only:
        backups = deployment.list_backups(target)
        if not backups:
            click.echo(f"no backups in {deployment.backups_root(target)}")
        for backup in backups:
            manifest = deployment.read_manifest(backup)
            click.echo(f"{backup.name}  {manifest['reason']}  {json.dumps(manifest['files'])}")
        return
    result = asyncio.run(_rollback(cfg, target, to))
    if not result.changed:
        click.echo("the deployed files already match that backup")
        return
    click.echo(f"saved the replaced files in {result.backup}")
    for name in result.changed:
        click.echo(f"restored {target / name}")
    for reload in result.reloads:
        click.echo(f"{reload.command}: {' / '.join(reload.output) or 'ok'}")
