"""Recording files: real 8 kHz 16-bit mono WAV of the requested length."""

from __future__ import annotations

import wave
from pathlib import Path

from callcenter.sim import wav


def test_write_wav_has_the_requested_length_and_format(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    size = wav.write_wav(path, 2.5)
    with wave.open(str(path), "rb") as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 8000)
        assert audio.getnframes() == 20000
    assert size == 44 + 40000
    assert wav.wav_seconds(path) == 2.5


def test_tone_is_not_silence_and_silence_is(tmp_path: Path) -> None:
    assert set(wav.pcm_samples(0.1, silent=True)) == {0}
    assert set(wav.pcm_samples(0.1, silent=False)) != {0}
    assert len(wav.pcm_samples(1.25, silent=False)) == 2 * 10000


def test_append_extends_the_file(tmp_path: Path) -> None:
    path = tmp_path / "b.wav"
    wav.write_wav(path, 1.0)
    wav.append_wav(path, 0.5, silent=True)
    assert wav.wav_seconds(path) == 1.5


def test_raw_formats_have_bytes_per_second(tmp_path: Path) -> None:
    path = tmp_path / "c.ulaw"
    assert wav.write_raw(path, 2.0, 8000) == 16000
