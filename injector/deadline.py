"""The run's deadline and the watchdog that enforces it even when a socket read never ends.

Timeouts on each request bound each socket read, not a whole answer: a server that trickles one
byte a second keeps a request alive forever. So the deadline is kept twice: cooperatively (every
attempt, backoff and subprocess gets at most the time left) and by a hard `Watchdog` (SIGALRM a
little after the deadline) that cleans up and ends the process. Standard library only, so the
exit-2 path stays lean.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Final

WATCHDOG_GRACE: Final = 2.0
"""Seconds after the deadline before the watchdog ends a run that did not end by itself."""
WATCHDOG_EXIT: Final = 1
"""Exit code of a run ended by the watchdog (the usual failure code)."""


class Deadline:
    """A point in monotonic time by which the whole run must be over, and what the run is doing."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds
        self.activity = "starting"
        """What the run is doing now, for the watchdog's message (no secrets)."""

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - self._clock())

    def doing(self, activity: str) -> None:
        """Record what the run is doing now (the last call wins across threads)."""
        self.activity = activity


class Watchdog:
    """SIGALRM at deadline + grace: run the cleanup, then ``os._exit``; no Python unwinding.

    ``os._exit`` is deliberate: a thread stuck in a socket read cannot be interrupted, and an
    orderly exit would wait for it. Arming is skipped outside the main thread (signals only work
    there); the cooperative deadline still applies then.
    """

    def __init__(
        self,
        deadline: Deadline,
        on_expiry: Callable[[str], None],
        grace: float = WATCHDOG_GRACE,
    ) -> None:
        self.deadline = deadline
        self._on_expiry = on_expiry
        self._grace = grace
        self._armed = False

    def arm(self) -> None:
        """Start the timer for the time left plus the grace."""
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, self.deadline.remaining() + self._grace)
        self._armed = True

    def disarm(self) -> None:
        """Stop the timer (the run ended by itself)."""
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            self._armed = False

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        message = f"deadline of {self.deadline.seconds:g} s exceeded while {self.deadline.activity}"
        try:
            self._on_expiry(message)
        finally:
            os._exit(WATCHDOG_EXIT)
