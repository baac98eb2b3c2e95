"""Write real audio files for simulated recordings (8 kHz, 16-bit, mono).

A recording of N seconds becomes a WAV file of N seconds: a quiet 440 Hz tone when someone was
"talking" (not muted), silence otherwise, so players and duration checks see the right length.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2  # bytes, 16-bit signed PCM
TONE_HZ = 440.0
TONE_AMPLITUDE = 1500  # quiet, far from clipping


def pcm_samples(seconds: float, *, silent: bool) -> bytes:
    """Signed 16-bit little-endian samples for ``seconds`` of tone (or silence)."""
    count = max(0, round(seconds * SAMPLE_RATE))
    if silent:
        return b"\x00\x00" * count
    # One period repeats exactly when TONE_HZ divides SAMPLE_RATE; 440 Hz does not, so build
    # one second and repeat it (cheap, and the phase jump once a second is inaudible here).
    second = struct.pack(
        f"<{SAMPLE_RATE}h",
        *(
            int(TONE_AMPLITUDE * math.sin(2 * math.pi * TONE_HZ * n / SAMPLE_RATE))
            for n in range(SAMPLE_RATE)
        ),
    )
    whole, rest = divmod(count, SAMPLE_RATE)
    return second * whole + second[: rest * SAMPLE_WIDTH]


def write_wav(path: Path, seconds: float, *, silent: bool = False) -> int:
    """Write a mono 8 kHz 16-bit WAV file of ``seconds``; returns the file size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm_samples(seconds, silent=silent))
    return path.stat().st_size


def write_wav_segments(path: Path, segments: list[tuple[float, bool]]) -> int:
    """Write a WAV file of ``(seconds, silent)`` pieces: tone where someone talks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(SAMPLE_RATE)
        for seconds, silent in segments:
            out.writeframes(pcm_samples(seconds, silent=silent))
    return path.stat().st_size


def append_wav(path: Path, seconds: float, *, silent: bool = False) -> int:
    """Append ``seconds`` of audio to an existing WAV file (ifExists=append)."""
    with wave.open(str(path), "rb") as old:
        frames = old.readframes(old.getnframes())
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(frames + pcm_samples(seconds, silent=silent))
    return path.stat().st_size


def wav_seconds(path: Path) -> float:
    """Length of a WAV file in seconds."""
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


def write_raw(path: Path, seconds: float, bytes_per_second: int) -> int:
    """Write headerless audio (sln, ulaw, alaw, gsm ...) of the right size: silence."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00" * max(0, round(seconds * bytes_per_second)))
    return path.stat().st_size
