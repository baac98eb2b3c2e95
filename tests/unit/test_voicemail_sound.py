"""How much of a message is sound: measured on the audio itself, in every format we record."""

from __future__ import annotations

import io
import wave

import pytest

from callcenter.sim.wav import SAMPLE_RATE, pcm_samples
from callcenter.voicemail.sound import is_empty, sound_seconds


def wav(*segments: tuple[float, bool], channels: int = 1, width: int = 2) -> bytes:
    """A WAV file of (seconds, silent) segments: the simulated PBX's tone for sound."""
    frames = b"".join(pcm_samples(seconds, silent=silent) for seconds, silent in segments)
    if channels == 2:
        frames = b"".join(frames[i : i + 2] * 2 for i in range(0, len(frames), 2))
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(frames if width == 2 else frames[::2])
    return out.getvalue()


def test_speech_between_silences_is_counted() -> None:
    audio = wav((1.0, True), (3.5, False), (2.0, True), (0.5, False), (1.0, True))
    assert sound_seconds(audio, "wav") == pytest.approx(4.0, abs=0.05)


def test_silence_only_is_no_sound() -> None:
    assert sound_seconds(wav((5.0, True)), "wav") == 0.0


def test_line_noise_under_the_threshold_is_silence() -> None:
    # A hiss of amplitude 100 (Asterisk's silence threshold is 256).
    noise = b"".join(
        (100 if n % 2 else -100).to_bytes(2, "little", signed=True) for n in range(8000)
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(noise)
    assert sound_seconds(out.getvalue(), "wav") == 0.0


def test_stereo_reads_the_first_channel() -> None:
    audio = wav((2.0, False), (1.0, True), channels=2)
    assert sound_seconds(audio, "wav") == pytest.approx(2.0, abs=0.05)


def test_raw_formats() -> None:
    # sln: 16-bit linear; ulaw 0xFF and alaw 0xD5 are (near) zero, 0x00/0x2A loud.
    assert sound_seconds(pcm_samples(1.5, silent=False) + pcm_samples(1.0, silent=True), "sln") == (
        pytest.approx(1.5, abs=0.05)
    )
    assert sound_seconds(b"\x00" * 8000 + b"\xff" * 16000, "ulaw") == pytest.approx(1.0)
    assert sound_seconds(b"\x2a" * 4000 + b"\xd5" * 16000, "alaw") == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("data", "audio_format"),
    [(b"not a wav", "wav"), (b"\x00" * 100, "gsm"), (wav((1.0, False), width=1), "wav")],
)
def test_unreadable_audio_is_an_error(data: bytes, audio_format: str) -> None:
    with pytest.raises(ValueError):
        sound_seconds(data, audio_format)


def test_empty_below_the_minimum_and_unknown_is_not_empty() -> None:
    assert is_empty(1.9, 2.0)
    assert not is_empty(2.0, 2.0)
    assert not is_empty(None, 2.0)
    assert not is_empty(0.0, 0.0)
