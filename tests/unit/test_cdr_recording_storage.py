"""Recording storage and policy: atomic files with checksums, names, expiry, WAV duration."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import wave
from pathlib import Path

import pytest

from callcenter.config import RecordingPolicy
from callcenter.recording.policy import expires_at, recording_name
from callcenter.recording.recorder import wav_duration
from callcenter.recording.storage import LocalStorage, StorageError, path_of

WHEN = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC)


def wav(seconds: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"\x00\x00" * int(rate * seconds))
    return out.getvalue()


def test_store_is_atomic_dated_and_checksummed(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    data = wav(1.5)
    stored = storage.store("abc", "wav", data, WHEN)
    assert stored.path == tmp_path.resolve() / "2026" / "11" / "25" / "abc.wav"
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size_bytes == len(data)
    assert path_of(stored.url) == stored.path
    assert not list(stored.path.parent.glob(".*part"))  # no temporary file left behind
    assert storage.verify(stored.url, stored.sha256) == "ok"
    stored.path.write_bytes(data[:-1])
    assert storage.verify(stored.url, stored.sha256) == "mismatch"
    assert storage.delete(stored.url) is True
    assert storage.verify(stored.url, stored.sha256) == "missing"
    assert storage.delete(stored.url) is False


def test_only_local_urls() -> None:
    with pytest.raises(StorageError, match="only file://"):
        path_of("s3://bucket/x.wav")


def test_names_and_expiry() -> None:
    assert recording_name("c0ffee") == "c0ffee"
    assert recording_name("c0ffee", 3) == "c0ffee-3"
    with pytest.raises(ValueError):
        recording_name("../etc/passwd")
    policy = RecordingPolicy(record="agent", retention_days=30)
    assert expires_at(WHEN, policy) == WHEN + dt.timedelta(days=30)


def test_wav_duration() -> None:
    assert wav_duration(wav(2.0)) == 2.0
    assert wav_duration(b"not a wav") is None
