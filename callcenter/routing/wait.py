"""What a waiting caller hears: entry prompt, music on hold, position and wait announcements.

``CallerWait`` only drives media on the caller's channel; the queue driver
(:mod:`callcenter.routing.driver`) feeds it the playback events and asks it when the next
announcement is due. Music and prompts never overlap: an announcement stops the music, and the
music comes back when the announcement's PlaybackFinished arrives.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from callcenter.asterisk.ari import AriClient, AriConflict, AriNotFound, AriRequestError
from callcenter.asterisk.ids import ChannelId, PlaybackId, new_playback_id
from callcenter.config import Queue


def announcement_media(position: int, estimated_wait_seconds: float | None) -> list[str]:
    """app_queue's announcement: "you are next" or "there are N calls waiting", then the
    estimated hold time in minutes (numbers spoken with ``number:N``)."""
    if position <= 1:
        media = ["sound:queue-youarenext"]
    else:
        media = ["sound:queue-thereare", f"number:{position}", "sound:queue-callswaiting"]
    if estimated_wait_seconds is not None:
        minutes = max(1, round(estimated_wait_seconds / 60))
        media += ["sound:queue-holdtime", f"number:{minutes}", "sound:queue-minutes"]
    return media


class CallerWait:
    """The media side of one caller's wait in one queue."""

    def __init__(
        self,
        ari: AriClient,
        caller: ChannelId,
        queue: Queue,
        *,
        speed: float = 1.0,
        position: Callable[[], int | None],
        estimated_wait: Callable[[], float | None],
    ) -> None:
        self.ari = ari
        self.caller = caller
        self.queue = queue
        self.speed = speed
        self._position = position
        self._estimated_wait = estimated_wait
        self.playback: PlaybackId | None = None
        self.moh_on = False
        self.announcements = 0
        self._next_announcement: float | None = None

    @property
    def announce_every(self) -> float | None:
        """Real seconds between announcements (the queue's PBX seconds over the speed)."""
        every = self.queue.announce_position_every
        return every / self.speed if every else None

    async def begin(self) -> None:
        """Entry prompt (music follows when it ends), or music at once."""
        if self.announce_every is not None:
            self._next_announcement = time.monotonic() + self.announce_every
        if self.queue.entry_prompt:
            await self._play([self.queue.entry_prompt])
        else:
            await self.start_music()

    def due_in(self) -> float | None:
        """Real seconds until the next announcement (None: none planned)."""
        if self._next_announcement is None:
            return None
        return max(0.0, self._next_announcement - time.monotonic())

    async def announce_if_due(self) -> None:
        """Say the position and estimated wait if it is time (and nothing else is playing)."""
        due = self.due_in()
        if due is None or due > 0:
            return
        assert self.announce_every is not None
        self._next_announcement = time.monotonic() + self.announce_every
        if self.playback is not None:
            return  # still playing the last prompt: skip this round
        position = self._position()
        if position is None:
            return
        self.announcements += 1
        await self._play(announcement_media(position, self._estimated_wait()))

    def hold_announcements(self) -> None:
        """No announcements while an agent's phone rings (the caller may be connected any
        moment); they resume with ``resume_announcements``."""
        self._next_announcement = None

    def resume_announcements(self) -> None:
        if self.announce_every is not None and self._next_announcement is None:
            self._next_announcement = time.monotonic() + self.announce_every

    async def playback_finished(self, playback: PlaybackId) -> None:
        """Our prompt ended: back to the music."""
        if playback != self.playback:
            return
        self.playback = None
        await self.start_music()

    async def resync(self) -> None:
        """After an ARI reconnect: a prompt whose PlaybackFinished was lost in the gap is over
        for Asterisk (``GET /playbacks/{id}`` 404), so the music comes back now."""
        if self.playback is None:
            return
        try:
            state = await self.ari.playback_state(self.playback)
        except AriRequestError:
            return
        if state is None:
            await self.playback_finished(self.playback)

    async def start_music(self) -> None:
        if not self.moh_on:
            self.moh_on = True
            with _caller_may_be_gone():
                await self.ari.start_moh(self.caller, self.queue.moh_class)

    async def stop(self) -> None:
        """Silence: stop the prompt and the music (before bridging or leaving the queue)."""
        self._next_announcement = None
        playback, self.playback = self.playback, None
        with contextlib.suppress(AriRequestError):
            if playback is not None:
                await self.ari.stop_playback(playback)
            if self.moh_on:
                self.moh_on = False
                await self.ari.stop_moh(self.caller)

    async def _play(self, media: list[str]) -> None:
        with _caller_may_be_gone():
            if self.moh_on:
                self.moh_on = False
                await self.ari.stop_moh(self.caller)
            self.playback = new_playback_id()
            await self.ari.play(self.caller, media, playback_id=self.playback)


@contextlib.contextmanager
def _caller_may_be_gone() -> Iterator[None]:
    """404 / 409 "Channel not in Stasis application": the caller hung up a moment ago; their
    StasisEnd is in the call's inbox and ends the wait there, not here."""
    with contextlib.suppress(AriNotFound, AriConflict):
        yield
