"""DbThreads: a call given up on is still counted until its thread returns."""

from __future__ import annotations

import asyncio
import threading

import pytest

from callcenter.db.threads import DbThreads


async def test_a_timed_out_call_is_waited_for() -> None:
    threads = DbThreads()
    release = threading.Event()
    assert await threads.run(1.0, lambda: 7) == 7
    with pytest.raises(TimeoutError):
        await threads.run(0.05, release.wait, 5.0)
    assert threads.running == 1  # the thread still holds whatever it holds
    assert await threads.wait(0.05) is False
    release.set()
    assert await threads.wait(2.0) is True
    assert threads.running == 0


async def test_a_cancelled_call_is_counted_until_it_returns() -> None:
    threads = DbThreads()
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait(5.0)

    task = asyncio.create_task(threads.run(5.0, hold))
    assert await asyncio.to_thread(started.wait, 2.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert threads.running == 1
    release.set()
    assert await threads.wait(2.0) is True


async def test_a_call_given_up_at_once_leaves_no_count() -> None:
    threads = DbThreads()
    ran = threading.Event()
    task = asyncio.create_task(threads.run(5.0, ran.set))
    await asyncio.sleep(0)  # run() has counted it and handed it to the executor
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.1)
    assert threads.running == 0


async def test_errors_reach_the_caller_and_are_not_counted() -> None:
    threads = DbThreads()

    def fail() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await threads.run(1.0, fail)
    assert threads.running == 0
