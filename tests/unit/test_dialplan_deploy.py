"""deploy.py without a network: atomic writes, backups, reload output, refusals."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.dialplan import deploy as deployment
from callcenter.dialplan.deploy import DeployError, LintError
from callcenter.errors import AsteriskError

GOOD = {"extensions.conf": "[default]\nexten => s,1,Hangup()\n", "http.conf": "[general]\n"}


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


class FakeAmi:
    """Answers CLI commands from a table; records what it ran."""

    def __init__(self, answers: dict[str, list[str] | Exception] | None = None) -> None:
        self.answers = answers or {}
        self.commands: list[str] = []

    async def command(self, cli: str, /) -> list[str]:
        self.commands.append(cli)
        answer = self.answers.get(cli, [f"Module '{cli.split()[-1]}' reloaded successfully."])
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_write_atomically_keeps_the_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "manager.conf"
    path.write_text("old\n")
    os.chmod(path, 0o600)
    deployment.write_atomically(path, "new\n")
    assert path.read_text() == "new\n"
    assert path.stat().st_mode & 0o777 == 0o600
    deployment.write_atomically(tmp_path / "fresh.conf", "x\n")
    assert (tmp_path / "fresh.conf").stat().st_mode & 0o777 == 0o640
    assert names(tmp_path) == ["fresh.conf", "manager.conf"]


def test_backups_are_pruned_to_the_newest(tmp_path: Path) -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i in range(deployment.KEEP_BACKUPS + 3):
        deployment.make_backup(tmp_path, ["a.conf"], "test", start + dt.timedelta(seconds=i))
    backups = deployment.list_backups(tmp_path)
    assert len(backups) == deployment.KEEP_BACKUPS
    assert backups[0].name == "20260101T000003.000000Z"


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        (["Module 'app_queue.so' reloaded successfully."], None),
        (["Dialplan reloaded."], None),
        ([], None),
        (["The module 'app_queue.so' reported a reload failure"], "reported a reload failure"),
        (["No such module 'cdr_pgsql.so'"], "No such module"),
        (["The module 'x' does not support reloads"], "does not support reloads"),
    ],
)
def test_reload_problem_reads_the_cli_output(output: list[str], problem: str | None) -> None:
    found = deployment.reload_problem(output)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_secrets_are_masked_in_diffs(tmp_path: Path) -> None:
    (tmp_path / "manager.conf").write_text("[u]\nsecret = old-one\n")
    text = deployment.unified_diff({"manager.conf": "[u]\nsecret = new-one\n"}, tmp_path)
    assert "old-one" not in text and "new-one" not in text
    assert "-secret = ********" in text and "+secret = ********" in text


async def test_nothing_changed_means_no_backup_and_no_reload(tmp_path: Path) -> None:
    for name, text in GOOD.items():
        (tmp_path / name).write_text(text)
    ami = FakeAmi()
    result = await deployment.deploy(GOOD, tmp_path, ami)
    assert result.changed == [] and result.backup is None and ami.commands == []


async def test_a_lint_problem_refuses_the_deploy_before_writing(tmp_path: Path) -> None:
    bad = {"extensions.conf": "[default]\nexten => s,n,Hangup(\n"}
    with pytest.raises(LintError, match="refusing to deploy"):
        await deployment.deploy(bad, tmp_path, FakeAmi())
    assert names(tmp_path) == []


async def test_a_lost_connection_during_reload_rolls_back(tmp_path: Path) -> None:
    (tmp_path / "http.conf").write_text("[general]\nenabled = no\n")
    ami = FakeAmi({"module reload http": AsteriskError("AMI connection lost")})
    with pytest.raises(DeployError, match=r"AMI connection lost.*rolled back"):
        await deployment.deploy(GOOD, tmp_path, ami)
    assert (tmp_path / "http.conf").read_text() == "[general]\nenabled = no\n"
    assert not (tmp_path / "extensions.conf").exists()
    assert ami.commands == ["module reload http", "dialplan reload"] * 2


async def test_rollback_without_backups_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="no backups"):
        await deployment.rollback(tmp_path, FakeAmi())


def test_check_cli_lints_a_directory(tmp_path: Path) -> None:
    (tmp_path / "extensions.conf").write_text("[default]\nexten => s,2,Hangup()\n")
    result = CliRunner().invoke(main, ["dialplan", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "extensions.conf:2: extension s in [default] has no priority 1" in result.output
    (tmp_path / "extensions.conf").write_text("[default]\nexten => s,1,Hangup()\n")
    result = CliRunner().invoke(main, ["dialplan", "check", "--dir", str(tmp_path), "--json"])
    assert result.exit_code == 0 and '"ok": true' in result.output


async def test_an_unwritable_config_dir_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(*args: object, **kwargs: object) -> Path:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(deployment, "make_backup", denied)
    with pytest.raises(DeployError, match=r"cannot back up .*: Permission denied"):
        await deployment.deploy(GOOD, tmp_path, FakeAmi())
    assert names(tmp_path) == []


async def test_a_failed_write_restores_the_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "extensions.conf").write_text("[old]\n")
    real = deployment.write_atomically

    def failing(path: Path, text: str) -> None:
        if path.name == "http.conf":
            raise OSError(28, "No space left on device")
        real(path, text)

    monkeypatch.setattr(deployment, "write_atomically", failing)
    ami = FakeAmi()
    with pytest.raises(DeployError, match="No space left on device; nothing was reloaded"):
        await deployment.deploy(GOOD, tmp_path, ami)
    assert (tmp_path / "extensions.conf").read_text() == "[old]\n"
    assert ami.commands == []


async def test_one_deploy_at_a_time(tmp_path: Path) -> None:
    busy = pytest.raises(DeployError, match="another deploy or rollback is running")
    with deployment.deploy_lock(tmp_path), busy:
        await deployment.deploy(GOOD, tmp_path, FakeAmi())
    assert (await deployment.deploy(GOOD, tmp_path, FakeAmi())).changed == sorted(GOOD)


async def test_a_missing_config_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="No such file or directory"):
        await deployment.deploy(GOOD, tmp_path / "nope", FakeAmi())
