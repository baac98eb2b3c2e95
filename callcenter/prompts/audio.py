"""Pure-Python audio for prompts: read a PCM WAV, make it 8 kHz mono 16-bit, write what Asterisk
plays without transcoding (``.wav``, ``.sln``, ``.ulaw``).

Asterisk's format_wav reads 8 kHz 16-bit mono PCM WAV, format_sln raw 16-bit little-endian
samples at 8 kHz, format_pcm raw G.711 μ-law (``.ulaw``). A phone call is 8 kHz: resampling
goes through a windowed-sinc low-pass at 3.6 kHz (polyphase, exact rational ratio) so that
espeak-ng's 22.05 kHz speech does not alias. No numpy, no audioop (gone in Python 3.13).
"""

from __future__ import annotations

import io
import math
import struct
import wave
from array import array
from dataclasses import dataclass
from operator import mul
from pathlib import Path

from callcenter.errors import CallCenterError

TELEPHONY_RATE = 8000
TAPS_PER_PHASE = 32
"""Input samples under the filter for each output sample (transition band ~0.4 kHz at 22 kHz)."""
CUTOFF = 0.45
"""Low-pass edge as a fraction of the lower of the two sample rates (3.6 kHz at 8 kHz)."""
WAVE_FORMAT_PCM = 1
WAVE_FORMAT_IEEE_FLOAT = 3
WAVE_FORMAT_EXTENSIBLE = 0xFFFE


class AudioError(CallCenterError):
    """A sound file we cannot read or convert."""

    code = "audio-invalid"


@dataclass(frozen=True)
class Pcm:
    """Mono 16-bit samples at ``rate`` Hz."""

    samples: array[int]
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0


# --- reading ----------------------------------------------------------------------------------


def read_wav(data: bytes, name: str = "file") -> Pcm:
    """A RIFF/WAVE file (PCM 8/16/24/32-bit or 32-bit float, any rate, any channels) as mono."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError(f"{name}: not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None
    payload: bytes | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt " and len(body) >= 16:
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack_from("<H", body, 24)[0]
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            payload = body
        offset += 8 + size + (size & 1)
    if fmt is None or payload is None:
        raise AudioError(f"{name}: WAV file without a fmt or data chunk")
    tag, channels, rate, bits = fmt
    if channels < 1 or rate < 1000:
        raise AudioError(f"{name}: {channels} channels at {rate} Hz is not audio we can use")
    values = _decode(payload, tag, bits, name)
    if channels > 1:
        frames = len(values) // channels
        values = [sum(values[i * channels : (i + 1) * channels]) / channels for i in range(frames)]
    return Pcm(array("h", (_clip(v) for v in values)), rate)


def _decode(payload: bytes, tag: int, bits: int, name: str) -> list[float]:
    """Samples scaled to the 16-bit range."""
    if tag == WAVE_FORMAT_PCM and bits == 16:
        samples = array("h")
        samples.frombytes(payload[: len(payload) // 2 * 2])
        return [float(v) for v in samples]
    if tag == WAVE_FORMAT_PCM and bits == 8:  # unsigned
        return [(v - 128) * 256.0 for v in payload]
    if tag == WAVE_FORMAT_PCM and bits == 24:
        usable = len(payload) // 3 * 3
        return [
            int.from_bytes(payload[i : i + 3], "little", signed=True) / 256.0
            for i in range(0, usable, 3)
        ]
    if tag == WAVE_FORMAT_PCM and bits == 32:
        samples = array("i")
        samples.frombytes(payload[: len(payload) // 4 * 4])
        return [v / 65536.0 for v in samples]
    if tag == WAVE_FORMAT_IEEE_FLOAT and bits == 32:
        floats = array("f")
        floats.frombytes(payload[: len(payload) // 4 * 4])
        return [v * 32767.0 for v in floats]
    raise AudioError(
        f"{name}: WAV encoding {tag} with {bits}-bit samples is not supported "
        "(use PCM or 32-bit float)"
    )


def _clip(value: float) -> int:
    return max(-32768, min(32767, round(value)))


# --- resampling -------------------------------------------------------------------------------


def resample(pcm: Pcm, rate: int = TELEPHONY_RATE) -> Pcm:
    """``pcm`` at ``rate`` Hz through a polyphase windowed-sinc low-pass (Blackman window)."""
    if pcm.rate == rate:
        return pcm
    divisor = math.gcd(pcm.rate, rate)
    up, down = rate // divisor, pcm.rate // divisor
    half = TAPS_PER_PHASE // 2
    # Cut-off in cycles per sample of the up-sampled stream (rate pcm.rate * up).
    cutoff = CUTOFF * min(pcm.rate, rate) / (pcm.rate * up)
    span = half * up  # the filter reaches this far either side, in up-sampled samples
    phases = [_phase_taps(p, up, half, cutoff, span) for p in range(up)]
    padded = array("d", [0.0] * half) + array("d", pcm.samples) + array("d", [0.0] * (half + 1))
    count = len(pcm.samples) * up // down
    out = array("h", bytes(2 * count))
    for m in range(count):
        position = m * down
        base, phase = divmod(position, up)
        window = padded[base + 1 : base + 1 + 2 * half]
        out[m] = _clip(sum(map(mul, phases[phase], window)))
    return Pcm(out, rate)


def _phase_taps(phase: int, up: int, half: int, cutoff: float, span: int) -> list[float]:
    """Weights of input samples ``base - half + 1 .. base + half`` for an output at ``phase``."""
    taps = []
    for k in range(-half + 1, half + 1):
        distance = phase - k * up  # output position minus input position, up-sampled units
        if distance == 0:
            value = 2 * cutoff
        else:
            x = 2 * math.pi * cutoff * distance
            value = math.sin(x) / (math.pi * distance)
        ratio = (distance + span) / (2 * span)
        window = (
            0.42 - 0.5 * math.cos(2 * math.pi * ratio) + 0.08 * math.cos(4 * math.pi * ratio)
            if 0.0 <= ratio <= 1.0
            else 0.0
        )
        taps.append(value * window * up)
    return taps


# --- writing ----------------------------------------------------------------------------------


def wav_bytes(pcm: Pcm) -> bytes:
    """A 16-bit mono PCM WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(pcm.rate)
        writer.writeframes(_little_endian(pcm.samples))
    return buffer.getvalue()


def sln_bytes(pcm: Pcm) -> bytes:
    """Raw signed 16-bit little-endian samples (Asterisk's ``.sln``)."""
    return _little_endian(pcm.samples)


def _little_endian(samples: array[int]) -> bytes:
    if struct.pack("=h", 1) == struct.pack("<h", 1):
        return samples.tobytes()
    swapped = array("h", samples)
    swapped.byteswap()
    return swapped.tobytes()


def _ulaw_byte(sample: int) -> int:
    """G.711 μ-law of one 16-bit sample (ITU-T G.711, bias 0x84, clip 32635)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, 32635) + 0x84
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


_ULAW_TABLE = bytes(_ulaw_byte(s) for s in range(-32768, 32768))


def ulaw_bytes(pcm: Pcm) -> bytes:
    """Raw G.711 μ-law (Asterisk's ``.ulaw``), one byte per sample."""
    table = _ULAW_TABLE
    return bytes(table[s + 32768] for s in pcm.samples)


def ulaw_decode(data: bytes) -> array[int]:
    """16-bit samples back from μ-law bytes (to check what we wrote)."""
    out = array("h")
    for byte in data:
        value = ~byte & 0xFF
        sign, exponent, mantissa = value & 0x80, (value >> 4) & 0x07, value & 0x0F
        magnitude = ((mantissa << 3) + 0x84) << exponent
        out.append(-(magnitude - 0x84) if sign else magnitude - 0x84)
    return out


TELEPHONY_FILES = {".wav": wav_bytes, ".sln": sln_bytes, ".ulaw": ulaw_bytes}
"""What ``prompts build`` writes for each prompt, by extension."""


def telephony_files(pcm: Pcm) -> dict[str, bytes]:
    """Every file Asterisk plays without transcoding, 8 kHz mono: ``{".wav": ..., ...}``."""
    narrow = resample(pcm, TELEPHONY_RATE)
    return {suffix: encode(narrow) for suffix, encode in TELEPHONY_FILES.items()}


def read_wav_file(path: Path) -> Pcm:
    """:func:`read_wav` of a file, with a clear error when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AudioError(f"{path}: cannot read: {exc.strerror or exc}", path=str(path)) from exc
    return read_wav(data, str(path))
