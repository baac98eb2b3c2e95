"""Install built prompts into Asterisk's sounds directory, in a folder of our own.

``<sounds_dir>/<language>/callcenter/<id>.{wav,sln,ulaw}``: Asterisk plays them as
``sound:callcenter/<id>`` (file.c looks in the channel's language folder, then the default
``en``). Each file is written to a temp file in the same folder and renamed over the old one,
so a call never reads half a prompt; files in our folders that the build no longer has are
removed. Nothing outside ``*/callcenter/`` is touched.

ARI's ``/sounds`` reads an index Asterisk builds at start; ``module reload sounds`` rebuilds it
(main/loader.c reload_classes -> ast_sounds_reindex), which is what deploy runs after a change.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.errors import CallCenterError
from callcenter.prompts.build import BuiltPrompt
from callcenter.sounds import PROMPT_FOLDER

SOUNDS_RELOAD = "module reload sounds"


class PromptInstallError(CallCenterError):
    """The prompts could not be installed: says where and why."""

    code = "prompt-install-failed"


@dataclass
class InstallResult:
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


def wanted_files(prompts: Mapping[str, BuiltPrompt], build_dir: Path) -> dict[Path, Path]:
    """Relative target (``en/callcenter/welcome.ulaw``) -> built file, for every prompt."""
    wanted: dict[Path, Path] = {}
    for built in prompts.values():
        for source in built.files(build_dir):
            wanted[Path(built.language) / PROMPT_FOLDER / source.name] = source
    return wanted


def planned_changes(
    prompts: Mapping[str, BuiltPrompt], build_dir: Path, sounds_dir: Path
) -> InstallResult:
    """What :func:`install_prompts` would write and remove (nothing is changed)."""
    wanted = wanted_files(prompts, build_dir)
    plan = InstallResult()
    for relative, source in sorted(wanted.items()):
        target = sounds_dir / relative
        if not target.is_file() or target.read_bytes() != source.read_bytes():
            plan.written.append(target)
    for folder in _our_folders(sounds_dir):
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.relative_to(sounds_dir) not in wanted:
                plan.removed.append(path)
    return plan


def install_prompts(
    prompts: Mapping[str, BuiltPrompt], build_dir: Path, sounds_dir: Path
) -> InstallResult:
    """Copy the built prompts into ``sounds_dir`` (changed files only), remove unused ones."""
    if not sounds_dir.is_dir():
        raise PromptInstallError(
            f"Asterisk's sounds directory {sounds_dir} does not exist "
            "(set asterisk.sounds_dir, or pass --sounds-dir)",
            sounds_dir=str(sounds_dir),
        )
    plan = planned_changes(prompts, build_dir, sounds_dir)
    wanted = wanted_files(prompts, build_dir)
    try:
        for target in plan.written:
            _ensure_folder(target.parent, sounds_dir)
            _copy_atomically(wanted[target.relative_to(sounds_dir)], target)
        for path in plan.removed:
            path.unlink(missing_ok=True)
        for folder in _our_folders(sounds_dir):
            if not any(folder.iterdir()):
                folder.rmdir()
    except OSError as exc:
        raise PromptInstallError(
            f"cannot install prompts into {sounds_dir}: {exc.strerror or exc}",
            sounds_dir=str(sounds_dir),
        ) from exc
    return plan


def _our_folders(sounds_dir: Path) -> list[Path]:
    if not sounds_dir.is_dir():
        return []
    return sorted(
        language / PROMPT_FOLDER
        for language in sounds_dir.iterdir()
        if language.is_dir() and (language / PROMPT_FOLDER).is_dir()
    )


def _ensure_folder(folder: Path, sounds_dir: Path) -> None:
    """Create ``<language>/callcenter`` readable by Asterisk, owned like the sounds dir."""
    owner = sounds_dir.stat()
    for directory in (folder.parent, folder):
        if not directory.is_dir():
            directory.mkdir(mode=0o755)
            if os.geteuid() == 0:
                os.chown(directory, owner.st_uid, owner.st_gid)


def _copy_atomically(source: Path, target: Path) -> None:
    owner = target.parent.stat()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(source.read_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        if os.geteuid() == 0:
            os.chown(tmp, owner.st_uid, owner.st_gid)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
