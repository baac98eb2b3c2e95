"""``callcenter prompts``: build the config's prompts, install them, play one.

Thin click commands over :mod:`callcenter.prompts`. ``dialplan deploy`` builds and installs
them too (and reloads Asterisk's sound index); ``prompts install`` is for an Asterisk whose
sounds directory is reachable but whose AMI is not (a container being set up).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import click

from callcenter.cli import config_option, echo_json, fail, json_option, load, maps_errors
from callcenter.config import CallCenterConfig, resolve_config_path
from callcenter.prompts.build import DEFAULT_BUILD_DIR, BuildResult, Progress, build_prompts

PROGRESS_BAR_FROM = 5
"""Show a progress bar when at least this many prompts are to be looked at, on a terminal."""


def build_dir_option(func: Any) -> Any:
    return click.option(
        "--build-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_BUILD_DIR,
        show_default=True,
        help="Where built prompts and their manifest are kept.",
    )(func)


def sounds_dir_option(func: Any) -> Any:
    return click.option(
        "--sounds-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Asterisk's sounds directory [default: asterisk.sounds_dir of the config].",
    )(func)


def run_build(
    cfg: CallCenterConfig, config_path: str | None, build_dir: Path, force: bool = False
) -> BuildResult:
    """Build the config's prompts (only the changed ones), with a progress bar for many."""
    base_dir = resolve_config_path(config_path).resolve().parent
    bar: AbstractContextManager[Any] = nullcontext()
    progress: Progress | None = None
    if len(cfg.prompts) >= PROGRESS_BAR_FROM and sys.stderr.isatty():
        from rich.progress import Progress as RichProgress

        rich_bar = RichProgress(transient=True)
        task = rich_bar.add_task("prompts", total=len(cfg.prompts))

        def progress(done: int, total: int, prompt_id: str) -> None:
            rich_bar.update(task, completed=done, description=f"prompt {prompt_id}")

        bar = rich_bar
    with bar:
        return build_prompts(cfg.prompts, base_dir, build_dir, force=force, progress=progress)


prompts: click.Group = click.Group(
    "prompts", help="Our own prompts (prompts: in callcenter.yaml): build, install, play."
)


@prompts.command("build")
@config_option
@build_dir_option
@click.option("--force", is_flag=True, help="Rebuild every prompt, changed or not.")
@json_option
@maps_errors
def build_command(config_path: str | None, build_dir: Path, force: bool, as_json: bool) -> None:
    """Make each prompt into 8 kHz mono WAV, .sln and .ulaw (text through espeak-ng)."""
    cfg = load(config_path)
    result = run_build(cfg, config_path, build_dir, force)
    if as_json:
        echo_json(
            {
                "build_dir": str(build_dir),
                "built": result.built,
                "unchanged": result.unchanged,
                "removed": result.removed,
            }
        )
        return
    for prompt_id in result.built:
        built = result.prompts[prompt_id]
        click.echo(f"built {prompt_id} ({built.language}, {built.seconds:.1f} s)")
    for prompt_id in result.removed:
        click.echo(f"removed {prompt_id}")
    click.echo(
        f"{len(result.built)} built, {len(result.unchanged)} unchanged, "
        f"{len(result.removed)} removed in {build_dir}"
    )


@prompts.command("install")
@config_option
@build_dir_option
@sounds_dir_option
@maps_errors
def install_command(config_path: str | None, build_dir: Path, sounds_dir: Path | None) -> None:
    """Build, then copy the prompts into <sounds-dir>/<language>/callcenter/ (no reload)."""
    from callcenter.prompts.install import SOUNDS_RELOAD, install_prompts

    cfg = load(config_path)
    result = run_build(cfg, config_path, build_dir)
    target = sounds_dir or Path(cfg.asterisk.sounds_dir)
    installed = install_prompts(result.prompts, build_dir, target)
    for path in installed.written:
        click.echo(f"wrote {path}")
    for path in installed.removed:
        click.echo(f"removed {path}")
    if installed.changed:
        click.echo(f"a running Asterisk lists them in ARI after `{SOUNDS_RELOAD}`")
    else:
        click.echo(f"nothing to install: {target} is up to date")


@prompts.command("play")
@config_option
@build_dir_option
@click.argument("prompt_id")
@maps_errors
def play_command(config_path: str | None, build_dir: Path, prompt_id: str) -> None:
    """Play one prompt here, as callers hear it (8 kHz), with `play` (sox) or `aplay`."""
    cfg = load(config_path)
    if prompt_id not in cfg.prompts:
        known = ", ".join(sorted(cfg.prompts)) or "none"
        fail(f"no prompt {prompt_id!r} in the config (prompts: {known})", 2)
    built = run_build(cfg, config_path, build_dir).prompts[prompt_id]
    path = built.files(build_dir)[0]  # the .wav
    play_locally(path, built.seconds)


def play_locally(path: Path, seconds: float | None) -> None:
    """Play a sound file with sox's ``play`` or ``aplay``, else say where it is."""
    player = shutil.which("play") or shutil.which("aplay")
    if player is None:
        click.echo(
            f"no audio player found (install sox for 'play' or alsa-utils for 'aplay'); "
            f"the file is {path}"
        )
        return
    click.echo(f"playing {path}")
    limit = (seconds or 3600) + 10
    try:
        subprocess.run([player, str(path)], check=False, timeout=limit)
    except subprocess.TimeoutExpired:
        fail(f"{player} did not finish within {limit:.0f} s")
