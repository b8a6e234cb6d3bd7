"""`webhook.server.blocking`: blocking calls in daemon threads, under a timeout, never piling up."""

from __future__ import annotations

import asyncio
import threading

import pytest

from webhook.server.blocking import Offloader, TimedOut, TooManyStuck


async def test_a_call_returns_its_result_or_raises_its_own_error() -> None:
    offloader = Offloader("test", timeout=5)
    assert await offloader.run(lambda: 42) == 42

    def fails() -> int:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        await offloader.run(fails)
    # A TimeoutError the call raises itself is its own error, not a timeout of the wait.
    with pytest.raises(TimeoutError):
        await offloader.run(_raise_timeout)
    assert offloader.stuck == 0


def _raise_timeout() -> None:
    raise TimeoutError("socket")


async def test_a_call_that_hangs_times_out_in_a_daemon_thread_and_counts_as_stuck() -> None:
    release = threading.Event()
    threads: list[threading.Thread] = []

    def hangs() -> str:
        threads.append(threading.current_thread())
        release.wait(30)
        return "late"

    offloader = Offloader("test", timeout=0.1, max_stuck=2)
    for _ in range(2):
        with pytest.raises(TimedOut, match=r"did not finish within 0\.1 s"):
            await offloader.run(hangs)
    assert offloader.stuck == 2
    assert all(thread.daemon for thread in threads)  # nothing waits for them at exit
    with pytest.raises(TooManyStuck):
        await offloader.run(hangs)
    assert len(threads) == 2  # no third thread was started

    release.set()
    async with asyncio.timeout(10):
        while offloader.stuck:
            await asyncio.sleep(0.01)
    assert await offloader.run(lambda: "again") == "again"
