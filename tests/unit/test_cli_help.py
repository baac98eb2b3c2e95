"""Every CLI command has help text and answers --help (as sqlite-utils checks)."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from callcenter import __version__
from callcenter.cli import main


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from walk(sub, (*path, name))


def test_every_command_has_help() -> None:
    runner = CliRunner()
    commands = list(walk(main))
    assert ("config", "check") in commands
    assert ("db", "upgrade") in commands
    for path in commands:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
        help_text = result.output.split("\n\n", 2)[1] if "\n\n" in result.output else ""
        assert help_text.strip(), f"callcenter {' '.join(path)} has no help text"


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_unknown_command_is_an_error() -> None:
    result = CliRunner().invoke(main, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command" in result.output
