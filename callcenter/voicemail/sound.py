"""How much of a message is sound: the seconds of audio louder than line silence. Pure.

A caller who hangs up at the beep leaves a message of a few seconds of nothing; one who
talks leaves seconds of speech. The measure works on the stored audio itself, so it is the
same however the message arrived (its RecordingFinished, a late ``recordings fetch``, a
worker adopting Asterisk's spool at start-up), and it needs no ``maxSilenceSeconds`` (ARI's
``talking_duration`` is only reported when the recording was started with one).

The audio is cut into 20 ms frames; a frame is sound when its mean absolute amplitude is above
``SILENCE_THRESHOLD``, the level Asterisk's own silence detector uses by default
(``silencethreshold=256`` in dsp.conf, on 16-bit linear samples).
"""

from __future__ import annotations

import array
import io
import sys
import wave

SILENCE_THRESHOLD = 256
FRAME_SECONDS = 0.02
RAW_RATE = 8000
"""Headerless formats (sln, ulaw, alaw) as Asterisk records them: 8 kHz mono."""


def _ulaw_to_linear(byte: int) -> int:
    byte = ~byte & 0xFF
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    magnitude = ((mantissa << 3) + 0x84) << exponent
    return 0x84 - magnitude if sign else magnitude - 0x84


def _alaw_to_linear(byte: int) -> int:
    byte ^= 0x55
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    magnitude = (mantissa << 4) + 8
    if exponent:
        magnitude = (magnitude + 0x100) << (exponent - 1)
    return magnitude if sign else -magnitude


ULAW = tuple(_ulaw_to_linear(b) for b in range(256))
ALAW = tuple(_alaw_to_linear(b) for b in range(256))


def _pcm16(data: bytes) -> array.array[int]:
    samples = array.array("h")
    samples.frombytes(data[: len(data) - len(data) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def linear_samples(data: bytes, audio_format: str) -> tuple[list[int] | array.array[int], int]:
    """(16-bit linear samples of the first channel, sample rate), or ValueError when the audio
    cannot be read (gsm, a WAV that is not 16-bit PCM)."""
    if audio_format == "wav":
        try:
            with wave.open(io.BytesIO(data)) as reader:
                if reader.getsampwidth() != 2:
                    raise ValueError(f"{reader.getsampwidth() * 8}-bit WAV, not 16-bit")
                channels, rate = reader.getnchannels(), reader.getframerate()
                frames = reader.readframes(reader.getnframes())
        except (wave.Error, EOFError) as exc:
            raise ValueError(f"not a readable WAV file: {exc}") from exc
        samples = _pcm16(frames)
        return (samples[::channels] if channels > 1 else samples), rate
    if audio_format == "sln":
        return _pcm16(data), RAW_RATE
    if audio_format == "ulaw":
        return [ULAW[b] for b in data], RAW_RATE
    if audio_format == "alaw":
        return [ALAW[b] for b in data], RAW_RATE
    raise ValueError(f"cannot measure sound in {audio_format} audio")


def sound_seconds(data: bytes, audio_format: str, threshold: int = SILENCE_THRESHOLD) -> float:
    """Seconds of ``data`` louder than silence (see the module docstring); ValueError when the
    audio cannot be read."""
    samples, rate = linear_samples(data, audio_format)
    if rate <= 0:
        raise ValueError("audio with no sample rate")
    step = max(1, round(rate * FRAME_SECONDS))
    loud = 0
    for start in range(0, len(samples), step):
        frame = samples[start : start + step]
        if sum(map(abs, frame)) > threshold * len(frame):
            loud += len(frame)
    return round(loud / rate, 3)


def is_empty(sound: float | None, min_sound_seconds: float) -> bool:
    """A message with less sound than the box's minimum is empty; one whose sound could not
    be measured (audio not fetched yet) is not."""
    return sound is not None and sound < min_sound_seconds
