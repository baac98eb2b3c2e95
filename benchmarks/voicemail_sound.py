"""How long measuring a voicemail message's sound takes (``callcenter.voicemail.sound``).

Side by side in one run: our measure (20 ms frames against the silence threshold) and a floor,
the least any measure must do (read the WAV, add up every sample's magnitude once). The
measure runs in a thread when a message is stored, never on the event loop; this says how
long that thread is busy per message.
Run: ``python -m benchmarks.voicemail_sound``.
"""

from __future__ import annotations

import array
import io
import statistics
import time
import wave
from collections.abc import Callable

from callcenter.sim.wav import SAMPLE_RATE, pcm_samples
from callcenter.voicemail.sound import sound_seconds

MESSAGE_SECONDS = 120.0
"""A whole message at the default ``max_seconds``: half speech, half silence."""
ROUNDS = 7


def message() -> bytes:
    half = MESSAGE_SECONDS / 2
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm_samples(half, silent=False) + pcm_samples(half, silent=True))
    return out.getvalue()


def floor(data: bytes) -> float:
    """Read the WAV and add up every sample's magnitude once: no frames, no threshold."""
    with wave.open(io.BytesIO(data)) as reader:
        samples = array.array("h", reader.readframes(reader.getnframes()))
    return float(sum(map(abs, samples)))


def timed(job: Callable[[bytes], float], data: bytes) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        job(data)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    data = message()
    ours = timed(lambda d: sound_seconds(d, "wav"), data)
    least = timed(floor, data)
    print(f"a {MESSAGE_SECONDS:.0f} s message (8 kHz, 16-bit), median of {ROUNDS}:")
    print(f"  sound measure  {ours * 1000:7.1f} ms  ({MESSAGE_SECONDS / ours:,.0f}x real time)")
    print(f"  floor          {least * 1000:7.1f} ms  (read + one pass over the samples)")
    print(f"  measure / floor: {ours / least:.2f}")


if __name__ == "__main__":
    main()
