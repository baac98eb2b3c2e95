"""Blocking database calls run off the event loop, and waiting for the ones given up on."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class DbThreads:
    """Blocking database calls in threads with a time-out, counted until they return.

    A thread given up on (time-out, or the awaiting task cancelled) still holds its pooled
    connection until its statement returns. Handed back to a pool that ``Engine.dispose()``
    already replaced, that connection is never closed: it is dropped open when the old pool
    is garbage-collected. Before disposing of the engine, ``await threads.wait(seconds)``."""

    def __init__(self) -> None:
        self._running = 0
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        """Calls started by ``run`` that may still run in their thread."""
        return self._running

    async def run(
        self, seconds: float, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """``func(*args, **kwargs)`` in a thread, given up on after ``seconds``."""
        call = functools.partial(func, *args, **kwargs)
        claim = _Claim()
        with self._lock:
            self._running += 1  # counted from now: the thread may start after we gave up
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._counted, call, claim), seconds)
        except BaseException:
            with self._lock:
                if not claim.started:  # the thread never runs ``call`` now
                    claim.abandoned = True
                    self._running -= 1
            raise

    def _counted(self, call: Callable[[], R], claim: _Claim) -> R:
        with self._lock:
            if claim.abandoned:
                raise asyncio.CancelledError  # nobody awaits this result any more
            claim.started = True
        try:
            return call()
        finally:
            with self._lock:
                self._running -= 1

    async def wait(self, seconds: float) -> bool:
        """Wait (at most ``seconds``) until no thread runs; False if one is still running."""
        deadline = time.monotonic() + seconds
        while self._running and time.monotonic() < deadline:  # noqa: ASYNC110 (set by threads)
            await asyncio.sleep(0.02)
        return not self._running


class _Claim:
    """Who owns a call's count: its thread once started, else ``run`` when it gives up."""

    __slots__ = ("abandoned", "started")

    def __init__(self) -> None:
        self.started = False
        self.abandoned = False
