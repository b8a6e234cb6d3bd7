"""A budget of concurrent connections per listener, and what happens to them at shutdown.

With ``failurePolicy: Fail`` an out-of-memory webhook stops every storage pod, and a client on the
pod network needs no valid request to cost memory. So each listener counts its connections in a
`ConnectionBudget`: at the cap, the connection that has been silent longest is closed (without a
goodbye) to make room for the new one. A flood of idle sockets then costs at most the cap, and
cannot lock out a newcomer such as the apiserver: to evict a connection whose review is being
answered, a flood would have to open the cap's worth of connections in the milliseconds that takes.
How each accepted socket then speaks TLS or plain HTTP is `webhook.server.protocols`.

The budget also knows, per connection, when it last received a byte or finished an answer, and
whether a request is being handled on it. On SIGTERM `close_when_quiet` uses that: a connection
accepted before the listener closed gets its request answered, however early it is (TLS handshake
under way, request on the wire), and is closed only after `SHUTDOWN_QUIET_SECONDS` of silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Final

SHUTDOWN_QUIET_SECONDS: Final = 2.0
"""After SIGTERM, a connection with no request in progress is closed once it has been silent (no
byte received, no answer finished) this long. Go's net/http treats a new connection as idle after
5 s; here the silence counts from the last byte, so a client that is handshaking or sending is
never cut, and 2 s plus the webhooks' 5 s ``timeoutSeconds`` fit in the 8 s grace period."""

_now = time.monotonic
"""The budget's clock (asyncio's event loop uses the same)."""


def _nothing() -> None:
    return None


class Slot:
    """One counted connection: its socket transport, the same whatever protocol speaks on it."""

    __slots__ = ("active", "budget", "busy", "http", "transport")

    def __init__(self, transport: asyncio.BaseTransport, budget: ConnectionBudget) -> None:
        self.transport = transport
        self.budget = budget
        self.active = _now()
        """When it was accepted, last received bytes, or finished handling a request."""
        self.busy = 0
        """Requests being handled on it (headers read, handler not returned)."""
        self.http: object = None
        """The HTTP protocol speaking on it, once there is one (`ConnectionBudget.attach`)."""

    def abort(self) -> None:
        """Close the socket now, without a TLS or HTTP goodbye."""
        self.transport.abort()  # type: ignore[attr-defined]

    def request_started(self) -> None:
        """A request's handler starts here: the connection is not idle until it returns."""
        self.busy += 1

    def request_done(self) -> None:
        """A request's handler returned (its answer is being written)."""
        self.busy -= 1
        self.budget.touch(self)
        self.budget.changed()


class ConnectionBudget:
    """Open connections of one listener, least recently active first, at most ``limit``."""

    def __init__(
        self,
        limit: int,
        *,
        on_evicted: Callable[[], None] = _nothing,
        on_handshake_timeout: Callable[[], None] = _nothing,
        index: dict[object, Slot] | None = None,
    ) -> None:
        self.limit = limit
        self._on_evicted = on_evicted
        self.on_handshake_timeout = on_handshake_timeout
        """Called when a connection sent nothing within the TLS handshake timeout."""
        self._open: OrderedDict[Slot, None] = OrderedDict()
        self._index = index if index is not None else {}
        self._peak = 0
        self._changed: asyncio.Event | None = None

    @property
    def open(self) -> int:
        """Connections counted now (accepted and not yet closed)."""
        return len(self._open)

    def slots(self) -> list[Slot]:
        """The open connections, least recently active first."""
        return list(self._open)

    def admit(self, transport: asyncio.BaseTransport) -> Slot:
        """A slot for a new connection; at the cap, the longest-silent connection is closed."""
        if len(self._open) >= self.limit:
            oldest = next(iter(self._open))
            self.release(oldest)
            self._on_evicted()
            oldest.abort()
        slot = Slot(transport, self)
        self._open[slot] = None
        if len(self._open) > self._peak:
            self._peak = len(self._open)
        return slot

    def attach(self, slot: Slot, http: object) -> None:
        """``http`` (aiohttp's protocol, ``request.protocol``) speaks on ``slot`` from now on."""
        slot.http = http
        self._index[http] = slot

    def closed_since_check(self) -> int:
        """How far the count fell from its peak since the last call (connections closed)."""
        closed = self._peak - len(self._open)
        self._peak = len(self._open)
        return closed

    def touch(self, slot: Slot) -> None:
        """The connection received bytes: it is now the most recently active."""
        slot.active = _now()
        # Once per read on every connection: a bare try costs nothing, contextlib.suppress does.
        try:  # noqa: SIM105
            self._open.move_to_end(slot)
        except KeyError:  # evicted, its close not processed yet
            pass

    def release(self, slot: Slot | None) -> None:
        """The connection is closed (again, or after an eviction: nothing to do)."""
        if slot is None or self._open.pop(slot, False) is False:
            return
        if slot.http is not None:
            self._index.pop(slot.http, None)
        self.changed()

    def abort_all(self) -> None:
        """Close every counted connection (after shutdown drained the ones that mattered)."""
        for slot in list(self._open):
            self.release(slot)
            slot.abort()

    def close_quiet(self, quiet: float) -> float | None:
        """Close the connections idle and silent for ``quiet`` s; when the next one will be.

        None when no connection is open. A closed one leaves the budget when its socket is
        closed (`release`); until then it is skipped.
        """
        now = _now()
        soonest: float | None = None
        for slot in self._open:
            if slot.busy or slot.transport.is_closing():
                due = now + quiet  # looked at again when it changes (request done, released)
            else:
                due = slot.active + quiet
                if due <= now:
                    slot.transport.close()
                    continue
            soonest = due if soonest is None else min(soonest, due)
        return soonest if self._open else None

    def watch(self, changed: asyncio.Event | None) -> None:
        """Set ``changed`` whenever a connection closes or a request on one is done."""
        self._changed = changed

    def changed(self) -> None:
        """A connection closed or finished a request: wake `close_when_quiet`, if it waits."""
        if self._changed is not None:
            self._changed.set()


async def close_when_quiet(
    budgets: Sequence[ConnectionBudget], grace: float, quiet: float = SHUTDOWN_QUIET_SECONDS
) -> int:
    """Close each connection once it is idle and silent for ``quiet`` s; wait up to ``grace`` s
    for all to close, and return how many are still open then (the caller aborts them).

    Meant for after the listeners closed: a connection answered with ``Connection: close`` closes
    itself; one whose request has not arrived yet keeps its place for ``quiet`` s of silence.
    """
    changed = asyncio.Event()
    deadline = _now() + grace
    for budget in budgets:
        budget.watch(changed)
    try:
        while True:
            dues = [due for budget in budgets if (due := budget.close_quiet(quiet)) is not None]
            if not dues:
                return 0
            now = _now()
            if now >= deadline:
                return sum(budget.open for budget in budgets)
            changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(min(min(dues), deadline) - now, 0.0)):
                    await changed.wait()
    finally:
        for budget in budgets:
            budget.watch(None)
