"""What a simulated phone says: when its far end talks and when it is silent (loop time).

A channel starts talking for ever (every earlier simulated recording was all "speech");
``SimCall.speak(seconds)`` makes it talk for that long from now and then fall silent, and
``SimCall.fall_silent()`` stops it at once. Recordings of the channel are written from these
spans (tone while talking, silence otherwise), report the talking and silent seconds in
RecordingFinished when started with ``maxSilenceSeconds`` (as Asterisk's
``talking_duration``/``silence_duration``), and end after that much silence.
"""

from __future__ import annotations

import itertools
import math


class Voice:
    """Talking spans ``(start, end)`` in loop time; ``end`` None: still talking."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float | None]] = [(-math.inf, None)]

    def speak(self, now: float, seconds: float) -> None:
        """Talk from ``now`` for ``seconds`` (loop time), then fall silent."""
        self.fall_silent(now)
        self.spans.append((now, now + max(0.0, seconds)))

    def fall_silent(self, now: float) -> None:
        self.spans = [
            (start, now if end is None or end > now else end)
            for start, end in self.spans
            if start < now
        ]

    def talking_at(self, moment: float) -> bool:
        return any(start <= moment and (end is None or moment < end) for start, end in self.spans)

    def silent_since(self, moment: float) -> float | None:
        """When the silence around ``moment`` began (None: talking at ``moment``)."""
        if self.talking_at(moment):
            return None
        ended = [end for start, end in self.spans if end is not None and end <= moment]
        return max(ended, default=-math.inf)

    def next_silence(self, moment: float) -> float | None:
        """When the talking at ``moment`` stops (None: it never does); ``moment`` if silent."""
        end: float | None = moment
        while end is not None and self.talking_at(end):
            end = next(
                (e for s, e in self.spans if s <= end and (e is None or end < e)),
                None,
            )
        return end

    def segments(self, start: float, stop: float) -> list[tuple[float, bool]]:
        """``[(seconds, silent), ...]`` (loop time) covering ``[start, stop)``."""
        cuts = sorted(
            {start, stop}
            | {t for span in self.spans for t in span if t is not None and start < t < stop}
        )
        pieces: list[tuple[float, bool]] = []
        for left, right in itertools.pairwise(cuts):
            silent = not self.talking_at(left)
            if pieces and pieces[-1][1] == silent:
                pieces[-1] = (pieces[-1][0] + right - left, silent)
            else:
                pieces.append((right - left, silent))
        return pieces

    def talking_seconds(self, start: float, stop: float) -> float:
        return sum(seconds for seconds, silent in self.segments(start, stop) if not silent)
