"""Deploy rendered files into Asterisk's config directory and reload them over AMI, safely.

``deploy``: lint, back up every managed file into ``<config_dir>/.callcenter-backups/<time>/``,
write the changed files atomically (temp file + rename in the same directory, so Asterisk never
reads half a file), reload only the modules whose files changed, read each reload's CLI output
and, when one failed, put the backup back and reload again. ``rollback`` restores a backup the
same way (after backing up what it replaces, so a rollback can be undone).

Asterisk answers ``Response: Success`` to ``module reload`` even when the module rejected its
config: the failure is only in the output ("The module 'app_queue.so' reported a reload
failure", main/cli.c handle_reload), which is what :func:`reload_problem` reads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from callcenter.dialplan.check import check_files
from callcenter.errors import AsteriskError, CallCenterError, ConfigError

BACKUP_DIR_NAME = ".callcenter-backups"
MANIFEST = "manifest.json"
KEEP_BACKUPS = 20

# Which CLI command makes Asterisk re-read each file, in the order they are issued: music and
# queues before the dialplan that uses them; manager.conf last (it concerns our own session).
RELOAD_COMMANDS: dict[str, str] = {
    "musiconhold.conf": "module reload res_musiconhold.so",
    "queues.conf": "module reload app_queue.so",
    # `module reload res_pjsip.so` re-reads pjsip.conf through res_pjsip's sorcery (endpoints,
    # auths, aors, identifies, registrations) and answers like every module reload.
    "pjsip.conf": "module reload res_pjsip.so",
    "ari.conf": "module reload res_ari.so",
    "http.conf": "module reload http",
    "cdr_pgsql.conf": "module reload cdr_pgsql.so",
    "extensions.conf": "dialplan reload",
    "manager.conf": "module reload manager",
}
# Lines of a reload's output that mean the new config did not take (main/cli.c, loader.c).
_FAILURE = re.compile(
    r"reported a reload failure|no such module|not properly initiali[sz]ed|does not support "
    r"reload|cannot reload|already in progress|failed|error",
    re.IGNORECASE,
)
_SECRET_LINE = re.compile(r"^([+-]?\s*(?:secret|password|md5_cred)\s*=\s*).+$")


class CommandRunner(Protocol):
    """What deploy needs from AMI: run a CLI command, return its output lines.

    :class:`callcenter.asterisk.ami.AmiClient` is one; it raises AsteriskError on
    ``Response: Error``.
    """

    async def command(self, cli: str, /) -> list[str]: ...


class DeployError(CallCenterError):
    """A deploy or rollback did not complete: says which reload failed and what was restored."""

    code = "dialplan-deploy-failed"


class LintError(ConfigError):
    """The rendered files have problems: nothing was written."""

    code = "dialplan-lint"


@dataclass(frozen=True)
class Reload:
    command: str
    output: list[str]
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class DeployResult:
    changed: list[str] = field(default_factory=list)
    backup: Path | None = None
    reloads: list[Reload] = field(default_factory=list)


# --- files -----------------------------------------------------------------------------------


def backups_root(config_dir: Path) -> Path:
    return config_dir / BACKUP_DIR_NAME


def changed_files(files: dict[str, str], config_dir: Path) -> list[str]:
    """Names whose rendered text differs from the deployed file (or that are not deployed)."""
    changed = []
    for name in sorted(files):
        path = config_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != files[name]:
            changed.append(name)
    return changed


def mask_secrets(line: str) -> str:
    """Hide the value of secret/password/md5_cred lines (diffs go to terminals and CI logs)."""
    return _SECRET_LINE.sub(r"\1********", line)


def unified_diff(files: dict[str, str], config_dir: Path) -> str:
    """A unified diff from the deployed files to the rendered ones, secrets masked."""
    chunks: list[str] = []
    for name in sorted(files):
        path = config_dir / name
        old = path.read_text(encoding="utf-8").splitlines(True) if path.is_file() else []
        new = files[name].splitlines(True)
        lines = difflib.unified_diff(
            old, new, fromfile=str(path) if old else "/dev/null", tofile=f"rendered/{name}"
        )
        chunks.extend(mask_secrets(line.rstrip("\n")) + "\n" for line in lines)
    return "".join(chunks)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same directory and a rename.

    Keeps the owner and mode of the file it replaces, minus any permission for others; a new
    file gets mode 0640 and the directory's owner. These files hold secrets (manager.conf the
    plain AMI secret, cdr_pgsql.conf the database password) and Asterisk reads them as its own
    user or group: nobody else needs to.
    """
    try:
        previous = path.stat()
        mode, uid, gid = previous.st_mode & 0o7770, previous.st_uid, previous.st_gid
    except FileNotFoundError:
        parent = path.parent.stat()
        mode, uid, gid = 0o640, parent.st_uid, parent.st_gid
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if os.geteuid() == 0:
            os.chown(tmp, uid, gid)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def write_files(files: dict[str, str], out_dir: Path) -> list[Path]:
    """``dialplan render --out``: write every rendered file into ``out_dir`` (created 0750 if
    needed) as ``write_atomically`` does; returns the paths written."""
    out_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
    written = []
    for name in sorted(files):
        write_atomically(out_dir / name, files[name])
        written.append(out_dir / name)
    return written


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_backup(
    config_dir: Path, names: list[str], reason: str, now: dt.datetime | None = None
) -> Path:
    """Copy the current ``names`` (and which of them do not exist) into a new backup dir."""
    moment = now or dt.datetime.now(dt.UTC)
    root = backups_root(config_dir)
    root.mkdir(mode=0o700, exist_ok=True)
    stamp = moment.strftime("%Y%m%dT%H%M%S.%fZ")
    target = root / stamp
    suffix = 1
    while target.exists():
        target = root / f"{stamp}-{suffix}"
        suffix += 1
    target.mkdir(mode=0o700)
    present: dict[str, bool] = {}
    for name in sorted(names):
        source = config_dir / name
        present[name] = source.is_file()
        if present[name]:
            (target / name).write_bytes(source.read_bytes())
    manifest = {"created": moment.isoformat(), "reason": reason, "files": present}
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _prune_backups(root)
    return target


def _prune_backups(root: Path) -> None:
    for old in list_backups(root.parent)[:-KEEP_BACKUPS]:
        for child in old.iterdir():
            child.unlink()
        old.rmdir()


def list_backups(config_dir: Path) -> list[Path]:
    """Backup directories, oldest first."""
    root = backups_root(config_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).is_file())


def find_backup(config_dir: Path, name: str | None) -> Path:
    """The backup called ``name`` (a directory name or path), or the newest one."""
    backups = list_backups(config_dir)
    if name is None:
        if not backups:
            raise DeployError(f"no backups in {backups_root(config_dir)}")
        return backups[-1]
    for backup in backups:
        if name in (backup.name, str(backup)):
            return backup
    known = ", ".join(b.name for b in backups[-5:]) or "none"
    raise DeployError(f"no backup {name!r} in {backups_root(config_dir)} (latest: {known})")


def read_manifest(backup: Path) -> dict[str, Any]:
    """A backup's manifest: ``created``, ``reason`` and ``files`` (name -> existed)."""
    manifest: dict[str, Any] = json.loads((backup / MANIFEST).read_text())
    return manifest


def restore_backup(backup: Path, config_dir: Path) -> list[str]:
    """Put a backup's files back (removing those that did not exist then); returns the changed."""
    manifest = read_manifest(backup)
    changed = []
    for name, existed in sorted(manifest["files"].items()):
        path = config_dir / name
        if existed:
            text = (backup / name).read_text(encoding="utf-8")
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                write_atomically(path, text)
                changed.append(name)
        elif path.exists():
            path.unlink()
            changed.append(name)
    return changed


# --- reloads ---------------------------------------------------------------------------------


def reload_commands(names: list[str]) -> list[str]:
    """The CLI commands that make Asterisk read ``names`` again, in a safe order."""
    wanted = set(names)
    return [command for file, command in RELOAD_COMMANDS.items() if file in wanted]


def reload_problem(output: list[str]) -> str | None:
    """The first output line saying the reload did not take, or None."""
    for line in output:
        if _FAILURE.search(line):
            return line.strip()
    return None


async def run_reloads(runner: CommandRunner, names: list[str]) -> list[Reload]:
    """Issue every reload (even after a failure, so the rest of the config is current)."""
    return await run_reloads_of(runner, reload_commands(names))


async def run_reloads_of(runner: CommandRunner, commands: list[str]) -> list[Reload]:
    """Run reload commands as given (e.g. ``module reload sounds`` after new prompts)."""
    results = []
    for command in commands:
        try:
            output = await runner.command(command)
        except AsteriskError as exc:
            results.append(Reload(command, [], exc.message))
            continue
        results.append(Reload(command, output, reload_problem(output)))
    return results


def _failures(reloads: list[Reload]) -> str:
    return "; ".join(f"`{r.command}` answered {r.problem!r}" for r in reloads if not r.ok)


# --- the two operations ----------------------------------------------------------------------


def _prepare(files: dict[str, str], config_dir: Path) -> list[str]:
    issues = check_files(files)
    if issues:
        shown = "; ".join(str(i) for i in issues[:3])
        raise LintError(f"refusing to deploy, {len(issues)} problem(s): {shown}")
    if not config_dir.is_dir():
        raise DeployError(f"config directory {config_dir} does not exist")
    return changed_files(files, config_dir)


def _write_with_backup(
    files: dict[str, str], changed: list[str], config_dir: Path, now: dt.datetime | None
) -> Path:
    """Back up, then write the changed files; a failed write puts the backup back."""
    try:
        backup = make_backup(config_dir, sorted(files), "deploy", now)
    except OSError as exc:
        raise DeployError(f"cannot back up {config_dir}: {exc.strerror or exc}") from exc
    try:
        for name in changed:
            write_atomically(config_dir / name, files[name])
    except OSError as exc:
        restore_backup(backup, config_dir)
        raise DeployError(
            f"cannot write into {config_dir}: {exc.strerror or exc}; nothing was reloaded"
        ) from exc
    return backup


@contextlib.contextmanager
def deploy_lock(config_dir: Path) -> Iterator[None]:
    """One deploy or rollback at a time per config directory (flock on the directory itself,
    so no lock file appears among Asterisk's files)."""
    try:
        fd = os.open(config_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise DeployError(f"config directory {config_dir}: {exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DeployError(f"another deploy or rollback is running on {config_dir}") from exc
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


async def deploy(
    files: dict[str, str],
    config_dir: Path,
    runner: CommandRunner,
    *,
    now: dt.datetime | None = None,
) -> DeployResult:
    """Lint, back up, write the changed files, reload; roll back and reload again on failure."""
    with deploy_lock(config_dir):
        return await _deploy(files, config_dir, runner, now)


async def _deploy(
    files: dict[str, str], config_dir: Path, runner: CommandRunner, now: dt.datetime | None
) -> DeployResult:
    changed = _prepare(files, config_dir)
    result = DeployResult(changed=changed)
    if not changed:
        return result
    result.backup = _write_with_backup(files, changed, config_dir, now)
    result.reloads = await run_reloads(runner, changed)
    if all(r.ok for r in result.reloads):
        return result
    restore_backup(result.backup, config_dir)
    again = await run_reloads(runner, changed)
    status = (
        "the previous files are back and reloaded"
        if all(r.ok for r in again)
        else f"the previous files are back but reloading them failed too: {_failures(again)}"
    )
    raise DeployError(
        f"reload failed: {_failures(result.reloads)}; rolled back to {result.backup.name}, "
        f"{status}",
        backup=str(result.backup),
        changed=changed,
    )


async def rollback(
    config_dir: Path,
    runner: CommandRunner,
    *,
    to: str | None = None,
    now: dt.datetime | None = None,
) -> DeployResult:
    """Restore a backup (the newest by default) and reload what it changed."""
    with deploy_lock(config_dir):
        return await _rollback(config_dir, runner, to, now)


async def _rollback(
    config_dir: Path, runner: CommandRunner, to: str | None, now: dt.datetime | None
) -> DeployResult:
    backup = find_backup(config_dir, to)
    names = sorted(read_manifest(backup)["files"])
    safety = make_backup(config_dir, names, f"rollback to {backup.name}", now)
    changed = restore_backup(backup, config_dir)
    result = DeployResult(changed=changed, backup=safety)
    result.reloads = await run_reloads(runner, changed)
    if not all(r.ok for r in result.reloads):
        raise DeployError(
            f"rolled back to {backup.name} but {_failures(result.reloads)} (the files replaced "
            f"are in {safety.name})",
            backup=str(safety),
        )
    return result
