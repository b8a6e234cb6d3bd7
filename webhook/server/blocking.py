"""Blocking file work off the event loop, in daemon threads, under a timeout.

The reloaders read files that a Secret or ConfigMap update, a broken volume or an attacker with
write access can turn into something that blocks. ``asyncio.to_thread`` runs work in the loop's
default executor, whose threads ``asyncio.run`` joins at exit: one read stuck for good then kept
SIGTERM from ending the process, and every later check queued behind it. `Offloader` runs each
call in a daemon thread of its own (nothing waits for it at exit) and stops waiting after a
timeout. A call that timed out may still be stuck; up to `MAX_STUCK` of them are tolerated (so a
rotation that replaces the stuck file is still picked up), and beyond that no thread is started
until one returns: a path that hangs for good costs a few threads, not one per check.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Final, TypeVar

MAX_STUCK: Final = 3
"""Timed-out calls that may still be running before no new one is started."""

_T = TypeVar("_T")


class TimedOut(Exception):
    """The call did not return within its timeout (it may still be running)."""


class TooManyStuck(Exception):
    """`MAX_STUCK` earlier calls timed out and have not returned: no new one was started."""


class Offloader:
    """Runs blocking calls in daemon threads, each awaited for at most a timeout."""

    def __init__(self, name: str, timeout: float, max_stuck: int = MAX_STUCK) -> None:
        self._name = name
        self.timeout = timeout
        """Seconds a call is awaited."""
        self._max_stuck = max_stuck
        self.stuck = 0
        """Calls that timed out and have not returned yet."""

    async def run(self, call: Callable[[], _T]) -> _T:
        """``call()``'s result or exception; `TimedOut` after `timeout` s; `TooManyStuck`
        without calling when too many earlier calls are stuck."""
        if self.stuck >= self._max_stuck:
            raise TooManyStuck(f"{self._name}: {self.stuck} earlier checks have not returned")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        abandoned = False

        def finished(result: _T | None, error: BaseException | None) -> None:
            if abandoned:
                self.stuck -= 1
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        def work() -> None:
            try:
                result, error = call(), None
            except BaseException as exc:
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # the loop is closed: the process is ending
                loop.call_soon_threadsafe(finished, result, error)

        threading.Thread(target=work, name=self._name, daemon=True).start()
        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                return await asyncio.shield(future)
        except TimeoutError:
            if not deadline.expired():  # the call itself raised it, and has returned
                raise
            abandoned = True
            self.stuck += 1
            raise TimedOut(f"{self._name}: did not finish within {self.timeout:g} s") from None
