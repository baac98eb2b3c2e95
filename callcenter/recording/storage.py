"""Where recording files live: a local directory (``recordings.directory``).

Files are written atomically (temporary file, fsync, rename, fsync of the directory) under
``<directory>/YYYY/MM/DD/<name>.<format>``, with their SHA-256. ``storage_url`` in the
``recordings`` table is a ``file://`` URL of that path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from callcenter.errors import CallCenterError


class StorageError(CallCenterError):
    code = "recording-storage-error"


@dataclass(frozen=True)
class StoredFile:
    path: Path
    url: str
    size_bytes: int
    sha256: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def path_of(url: str) -> Path:
    """The local path of a ``file://`` storage URL (or a plain path)."""
    parsed = urlparse(url)
    if parsed.scheme in {"", "file"}:
        return Path(unquote(parsed.path))
    raise StorageError(f"unsupported storage URL {url!r} (only file:// is supported)", url=url)


class LocalStorage:
    """Recording files in a local directory."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).resolve()

    def store(self, name: str, audio_format: str, data: bytes, when: dt.datetime) -> StoredFile:
        """Write ``data`` atomically; returns where it is and its checksum."""
        folder = self.directory / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}"
        final = folder / f"{name}.{audio_format}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        except OSError as exc:
            raise StorageError(f"cannot store recording {name}: {exc}", name=name) from exc
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StorageError(f"cannot store recording {name}: {exc}", name=name) from exc
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return StoredFile(final, final.as_uri(), len(data), hashlib.sha256(data).hexdigest())

    def delete(self, url: str) -> bool:
        """Remove a stored file; False if it was already gone."""
        path = path_of(url)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def verify(self, url: str, expected_sha256: str | None) -> str:
        """``ok``, ``missing`` or ``mismatch``."""
        path = path_of(url)
        if not path.is_file():
            return "missing"
        return "ok" if sha256_of(path) == expected_sha256 else "mismatch"
