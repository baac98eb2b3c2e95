"""``callcenter prompts build``: the config's prompts made into files Asterisk plays as they are.

Each prompt becomes ``<build_dir>/<language>/<id>.wav`` (8 kHz mono 16-bit PCM), ``.sln`` and
``.ulaw``: the same layout deploy installs under ``<sounds_dir>/<language>/callcenter/``. Text
is spoken by espeak-ng (Debian's ``espeak-ng``); a ``file:`` is a WAV converted in Python
(:mod:`callcenter.prompts.audio`).

Only what changed is rebuilt: ``manifest.json`` keeps a SHA-256 of what each prompt was made
from (its text and voice, or its file's bytes) and of the conversion; a prompt whose hash and
files are unchanged is left alone, one that left the config is removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.errors import CallCenterError
from callcenter.prompts.audio import (
    TELEPHONY_FILES,
    AudioError,
    Pcm,
    read_wav,
    resample,
    telephony_files,
)
from callcenter.sounds import Prompt

MANIFEST = "manifest.json"
PIPELINE = "8k-mono-s16+ulaw/1"
"""Changes whenever the conversion does: every prompt is then rebuilt."""
ESPEAK = "espeak-ng"
ESPEAK_TIMEOUT = 60.0
DEFAULT_BUILD_DIR = Path("var/prompts")

Progress = Callable[[int, int, str], None]
"""``(done, total, prompt_id)`` after each prompt."""


class PromptBuildError(CallCenterError):
    """A prompt could not be made: names the prompt's key path and why."""

    code = "prompt-build-failed"


@dataclass(frozen=True)
class BuiltPrompt:
    """One prompt's files as the manifest records them."""

    prompt_id: str
    language: str
    hash: str
    seconds: float
    suffixes: tuple[str, ...] = tuple(TELEPHONY_FILES)

    def files(self, build_dir: Path) -> list[Path]:
        return [build_dir / self.language / f"{self.prompt_id}{s}" for s in self.suffixes]


@dataclass
class BuildResult:
    built: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    prompts: dict[str, BuiltPrompt] = field(default_factory=dict)


def source_hash(prompt: Prompt, base_dir: Path, prompt_id: str) -> str:
    """SHA-256 of what the prompt's audio is made from (text + voice, or the file's bytes)."""
    digest = hashlib.sha256(PIPELINE.encode())
    digest.update(prompt.language.encode() + b"\0")
    if prompt.text is not None:
        digest.update(b"text\0" + (prompt.voice or "").encode() + b"\0" + prompt.text.encode())
    else:
        path = prompt_file(prompt, base_dir)
        try:
            digest.update(b"file\0" + path.read_bytes())
        except OSError as exc:
            raise PromptBuildError(
                f"prompts.{prompt_id}.file: cannot read {path}: {exc.strerror or exc}",
                prompt=prompt_id,
            ) from exc
    return digest.hexdigest()


def prompt_file(prompt: Prompt, base_dir: Path) -> Path:
    """A ``file:`` prompt's path; relative ones are read from the config file's directory."""
    assert prompt.file is not None
    path = Path(prompt.file)
    return path if path.is_absolute() else base_dir / path


def read_manifest(build_dir: Path) -> dict[str, BuiltPrompt]:
    """What the last build made (empty when there was none or it is unreadable)."""
    try:
        data = json.loads((build_dir / MANIFEST).read_text(encoding="utf-8"))
        return {
            prompt_id: BuiltPrompt(
                prompt_id,
                entry["language"],
                entry["hash"],
                float(entry["seconds"]),
                tuple(entry["files"]),
            )
            for prompt_id, entry in data["prompts"].items()
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _write_manifest(build_dir: Path, prompts: Mapping[str, BuiltPrompt]) -> None:
    data: dict[str, Any] = {
        "pipeline": PIPELINE,
        "prompts": {
            prompt_id: {
                "language": built.language,
                "hash": built.hash,
                "seconds": round(built.seconds, 3),
                "files": list(built.suffixes),
            }
            for prompt_id, built in sorted(prompts.items())
        },
    }
    _write_bytes(build_dir / MANIFEST, (json.dumps(data, indent=2) + "\n").encode())


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_prompts(
    prompts: Mapping[str, Prompt],
    base_dir: Path,
    build_dir: Path = DEFAULT_BUILD_DIR,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> BuildResult:
    """Make every prompt whose source changed (all with ``force``); remove the ones gone."""
    previous = read_manifest(build_dir)
    result = BuildResult()
    total = len(prompts)
    for done, (prompt_id, prompt) in enumerate(sorted(prompts.items()), start=1):
        digest = source_hash(prompt, base_dir, prompt_id)
        old = previous.get(prompt_id)
        if (
            not force
            and old is not None
            and old.hash == digest
            and old.language == prompt.language
            and all(path.is_file() for path in old.files(build_dir))
        ):
            result.unchanged.append(prompt_id)
            result.prompts[prompt_id] = old
        else:
            pcm = resample(_source_audio(prompt_id, prompt, base_dir))
            built = BuiltPrompt(prompt_id, prompt.language, digest, pcm.seconds)
            for suffix, data in telephony_files(pcm).items():
                _write_bytes(build_dir / prompt.language / f"{prompt_id}{suffix}", data)
            if old is not None and old.language != prompt.language:
                _remove_files(old, build_dir)
            result.built.append(prompt_id)
            result.prompts[prompt_id] = built
            # Written after each prompt: an interrupted build keeps what it finished.
            _write_manifest(build_dir, {**previous, **result.prompts})
        if progress is not None:
            progress(done, total, prompt_id)
    for prompt_id, old in sorted(previous.items()):
        if prompt_id not in prompts:
            _remove_files(old, build_dir)
            result.removed.append(prompt_id)
    _write_manifest(build_dir, result.prompts)
    return result


def _remove_files(built: BuiltPrompt, build_dir: Path) -> None:
    for path in built.files(build_dir):
        path.unlink(missing_ok=True)


def _source_audio(prompt_id: str, prompt: Prompt, base_dir: Path) -> Pcm:
    try:
        if prompt.text is not None:
            return read_wav(speak(prompt.text, prompt.voice or prompt.language), prompt_id)
        path = prompt_file(prompt, base_dir)
        return read_wav(path.read_bytes(), str(path))
    except AudioError as exc:
        raise PromptBuildError(f"prompts.{prompt_id}: {exc.message}", prompt=prompt_id) from exc
    except OSError as exc:
        raise PromptBuildError(
            f"prompts.{prompt_id}.file: cannot read: {exc.strerror or exc}", prompt=prompt_id
        ) from exc


def speak(text: str, voice: str) -> bytes:
    """espeak-ng's WAV (22.05 kHz mono) of ``text``; the text goes on stdin, never as an option."""
    program = shutil.which(ESPEAK)
    if program is None:
        raise PromptBuildError(
            "espeak-ng is not installed: it speaks text prompts "
            "(Debian: apt-get install espeak-ng; `make install-tools` does it)"
        )
    with tempfile.TemporaryDirectory(prefix="callcenter-prompt-") as tmp:
        out = Path(tmp) / "speech.wav"
        try:
            completed = subprocess.run(
                [program, "-v", voice, "-b", "1", "-w", str(out), "--stdin"],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=ESPEAK_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PromptBuildError(f"espeak-ng took more than {ESPEAK_TIMEOUT:g}s") from exc
        stderr = completed.stderr.decode("utf-8", "replace").strip()
        if completed.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:
            reason = stderr.splitlines()[0] if stderr else f"exit status {completed.returncode}"
            raise PromptBuildError(f"espeak-ng failed with voice {voice!r}: {reason}")
        return out.read_bytes()
