"""A budget of concurrent connections per listener, and TLS connections that cost little memory.

With ``failurePolicy: Fail`` an out-of-memory webhook stops every storage pod, and a client on the
pod network needs no valid request to cost memory. asyncio's own TLS transport allocates a 256 KiB
read buffer for every accepted connection, before the handshake, and OpenSSL holds its handshake
buffers for a connection that never sends its ClientHello (measured in ``docs/server.md``). So the
listeners here accept plain TCP and, per connection:

- count it in a `ConnectionBudget`: at the cap, the connection that has been silent longest is
  closed (without a goodbye) to make room for the new one. A flood of idle sockets then costs at
  most the cap, and cannot lock out a newcomer such as the apiserver: to evict a connection whose
  review is being answered, a flood would have to open the cap's worth of connections in the
  milliseconds that takes.
- start TLS only when the client's first bytes arrive (`Pending`), within the handshake timeout;
- speak TLS with asyncio's own protocol (`TLSConnection`), whose read buffer is one buffer per
  listener instead of one per connection: asyncio reads into it and copies into OpenSSL's input
  in the same call, on the one event-loop thread, so connections never share its contents.
"""

from __future__ import annotations

import asyncio
import ssl
from asyncio import sslproto
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

TLS_READ_BUFFER: Final = 16 * 1024
"""Bytes read from a TLS socket at once (asyncio's own: 256 KiB), in one buffer per listener: one
full TLS record, a whole review as the apiserver sends it. It also bounds what OpenSSL's input
buffer of each connection grows to (that buffer never shrinks), and asyncio's own allocation of
this size per connection (dropped at once) and per decrypted read stay small heap allocations."""
TLS_INPUT_HIGH_WATER: Final = 2 * TLS_READ_BUFFER
"""Encrypted bytes a connection whose reader is paused may hold before asyncio stops reading its
socket (asyncio's own: 256 KiB, kept by OpenSSL's input buffer for good). Above one whole TLS
record, so that a record still arriving can never stall the connection."""
TLS_SHUTDOWN_TIMEOUT: Final = 2.0
"""Seconds a closing TLS connection waits for the client's close_notify (asyncio's own: 30)."""

AppFactory = Callable[[], asyncio.Protocol]
"""Makes the HTTP protocol of one connection (aiohttp's ``web.Server`` is one)."""


def _nothing() -> None:
    return None


class Slot:
    """One counted connection: its socket transport, the same whatever protocol speaks on it."""

    __slots__ = ("transport",)

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def abort(self) -> None:
        """Close the socket now, without a TLS or HTTP goodbye."""
        self.transport.abort()  # type: ignore[attr-defined]


class ConnectionBudget:
    """Open connections of one listener, least recently active first, at most ``limit``."""

    def __init__(
        self,
        limit: int,
        *,
        on_evicted: Callable[[], None] = _nothing,
        on_handshake_timeout: Callable[[], None] = _nothing,
    ) -> None:
        self.limit = limit
        self._on_evicted = on_evicted
        self.on_handshake_timeout = on_handshake_timeout
        """Called when a connection sent nothing within the TLS handshake timeout."""
        self._open: OrderedDict[Slot, None] = OrderedDict()
        self.read_buffer = memoryview(bytearray(TLS_READ_BUFFER))
        """The one buffer TLS connections of this listener read from their sockets into."""
        self._peak = 0

    @property
    def open(self) -> int:
        """Connections counted now (accepted and not yet closed)."""
        return len(self._open)

    def admit(self, transport: asyncio.BaseTransport) -> Slot:
        """A slot for a new connection; at the cap, the longest-silent connection is closed."""
        if len(self._open) >= self.limit:
            oldest = next(iter(self._open))
            del self._open[oldest]
            self._on_evicted()
            oldest.abort()
        slot = Slot(transport)
        self._open[slot] = None
        if len(self._open) > self._peak:
            self._peak = len(self._open)
        return slot

    def closed_since_check(self) -> int:
        """How far the count fell from its peak since the last call (connections closed)."""
        closed = self._peak - len(self._open)
        self._peak = len(self._open)
        return closed

    def touch(self, slot: Slot) -> None:
        """The connection received bytes: it is now the most recently active."""
        # Once per read on every connection: a bare try costs nothing, contextlib.suppress does.
        try:  # noqa: SIM105
            self._open.move_to_end(slot)
        except KeyError:  # evicted, its close not processed yet
            pass

    def release(self, slot: Slot | None) -> None:
        """The connection is closed (again, or after an eviction: nothing to do)."""
        if slot is not None:
            self._open.pop(slot, None)

    def abort_all(self) -> None:
        """Close every counted connection (after shutdown drained the ones that mattered)."""
        for slot in list(self._open):
            self.release(slot)
            slot.abort()


class TLSConnection(sslproto.SSLProtocol):
    """asyncio's TLS protocol, unchanged but for its read buffer (the listener's) and its slot."""

    max_size = TLS_READ_BUFFER

    def __init__(
        self,
        budget: ConnectionBudget,
        slot: Slot,
        app: asyncio.Protocol,
        context: ssl.SSLContext,
        handshake_timeout: float,
    ) -> None:
        super().__init__(
            asyncio.get_running_loop(),
            app,
            context,
            None,  # type: ignore[arg-type]  # no waiter: nothing awaits the handshake
            server_side=True,
            ssl_handshake_timeout=handshake_timeout,  # type: ignore[arg-type]  # any positive number
            ssl_shutdown_timeout=TLS_SHUTDOWN_TIMEOUT,
        )
        # asyncio allocates max_size bytes here and reads into them only inside
        # get_buffer() -> recv_into() -> buffer_updated(), which copies them into OpenSSL at once.
        self._ssl_buffer = budget.read_buffer.obj
        self._ssl_buffer_view = budget.read_buffer
        # What the app transport's set_read_buffer_limits() calls; that transport is made later.
        self._set_read_buffer_limits(high=TLS_INPUT_HIGH_WATER)  # type: ignore[attr-defined]
        self._budget = budget
        self._slot = slot

    def buffer_updated(self, nbytes: int) -> None:
        self._budget.touch(self._slot)
        super().buffer_updated(nbytes)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._budget.release(self._slot)
        super().connection_lost(exc)


class Pending(asyncio.BufferedProtocol):
    """A TLS connection before the client's first bytes: a slot and a timer, nothing else.

    The first bytes (the ClientHello) make the `TLSConnection` and its HTTP protocol, which take
    over the socket; a client that sends nothing within the handshake timeout is closed.
    """

    def __init__(
        self,
        budget: ConnectionBudget,
        app: AppFactory,
        context: ssl.SSLContext,
        handshake_timeout: float,
    ) -> None:
        self._budget = budget
        self._app = app
        self._context = context
        self._timeout = handshake_timeout
        self._slot: Slot | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._slot = self._budget.admit(transport)
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self._timeout
        self._timer = loop.call_at(self._deadline, self._timed_out)

    def _timed_out(self) -> None:
        self._budget.on_handshake_timeout()
        if self._slot is not None:
            self._slot.abort()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._budget.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        slot = self._slot
        assert slot is not None
        assert self._timer is not None
        self._timer.cancel()
        remaining = self._deadline - asyncio.get_running_loop().time()
        tls = TLSConnection(self._budget, slot, self._app(), self._context, max(remaining, 0.001))
        transport: Any = slot.transport
        transport.set_protocol(tls)
        tls.connection_made(transport)
        # The bytes are in the listener's buffer, which is also the TLS connection's.
        tls.buffer_updated(nbytes)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._budget.release(self._slot)


class PlainConnection(asyncio.Protocol):
    """A plain-TCP connection counted in a budget; everything else goes to the HTTP protocol."""

    def __init__(self, budget: ConnectionBudget, app: AppFactory) -> None:
        self._budget = budget
        self._make_app = app
        self._app: asyncio.Protocol | None = None
        self._slot: Slot | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._slot = self._budget.admit(transport)
        self._app = self._make_app()
        self._app.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        assert self._slot is not None
        assert self._app is not None
        self._budget.touch(self._slot)
        self._app.data_received(data)

    def eof_received(self) -> bool | None:
        return self._app.eof_received() if self._app is not None else None

    def pause_writing(self) -> None:
        if self._app is not None:
            self._app.pause_writing()

    def resume_writing(self) -> None:
        if self._app is not None:
            self._app.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._budget.release(self._slot)
        if self._app is not None:
            self._app.connection_lost(exc)
        self._app = None


def tls_factory(
    budget: ConnectionBudget,
    app: AppFactory,
    context: ssl.SSLContext,
    handshake_timeout: float,
) -> Callable[[], asyncio.BaseProtocol]:
    """The protocol factory of a TLS listener (for ``loop.create_server`` without ``ssl=``)."""

    def factory() -> asyncio.BaseProtocol:
        return Pending(budget, app, context, handshake_timeout)

    return factory


def plain_factory(budget: ConnectionBudget, app: AppFactory) -> Callable[[], asyncio.BaseProtocol]:
    """The protocol factory of a plain-HTTP listener."""

    def factory() -> asyncio.BaseProtocol:
        return PlainConnection(budget, app)

    return factory
