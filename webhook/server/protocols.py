"""How an accepted socket speaks: TLS that costs little memory, or plain HTTP.

asyncio's own TLS transport allocates a 256 KiB read buffer for every accepted connection, before
the handshake, and OpenSSL holds its handshake buffers for a connection that never sends its
ClientHello (measured in ``docs/server.md``). So the listeners accept plain TCP, count each
connection in its `webhook.server.budget.ConnectionBudget`, and:

- start TLS only when the client's first bytes arrive (`Pending`), within the handshake timeout;
- speak TLS with asyncio's own protocol (`TLSConnection`), whose read buffer is one buffer per
  listener instead of one per connection: asyncio reads into it and copies into OpenSSL's input
  in the same call, on the one event-loop thread, so connections never share its contents.
"""

from __future__ import annotations

import asyncio
import ssl
from asyncio import sslproto
from collections.abc import Callable
from typing import Any, Final

from webhook.server.budget import ConnectionBudget, Slot

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
ProtocolFactory = Callable[[], asyncio.BaseProtocol]
"""What ``loop.create_server`` calls for each accepted socket."""


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
        read_buffer: memoryview,
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
        self._ssl_buffer = read_buffer.obj
        self._ssl_buffer_view = read_buffer
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

    def __init__(self, listener: TLSListener) -> None:
        self._listener = listener
        self._slot: Slot | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._slot = self._listener.budget.admit(transport)
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self._listener.handshake_timeout
        self._timer = loop.call_at(self._deadline, self._timed_out)

    def _timed_out(self) -> None:
        self._listener.budget.on_handshake_timeout()
        if self._slot is not None:
            self._slot.abort()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._listener.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        slot = self._slot
        assert slot is not None
        assert self._timer is not None
        self._timer.cancel()
        listener = self._listener
        remaining = self._deadline - asyncio.get_running_loop().time()
        http = listener.app()
        listener.budget.attach(slot, http)
        tls = TLSConnection(
            listener.budget,
            slot,
            http,
            listener.context,
            max(remaining, 0.001),
            listener.read_buffer,
        )
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
        self._listener.budget.release(self._slot)


class CountedHTTP(asyncio.Protocol):
    """The HTTP protocol of a counted connection: received bytes touch its slot, its close
    releases it. Plain-HTTP listeners admit the socket here; a TLS one can pass its slot."""

    def __init__(
        self, budget: ConnectionBudget, http: asyncio.Protocol, slot: Slot | None = None
    ) -> None:
        self._budget = budget
        self._http = http
        self._slot = slot

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._slot is None:
            self._slot = self._budget.admit(transport)
        self._budget.attach(self._slot, self._http)
        self._http.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        assert self._slot is not None
        self._budget.touch(self._slot)
        self._http.data_received(data)

    def eof_received(self) -> bool | None:
        return self._http.eof_received()

    def pause_writing(self) -> None:
        self._http.pause_writing()

    def resume_writing(self) -> None:
        self._http.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._budget.release(self._slot)
        self._http.connection_lost(exc)


class TLSListener:
    """What every connection of one HTTPS listener shares, and its protocol factory."""

    def __init__(
        self,
        budget: ConnectionBudget,
        app: AppFactory,
        context: ssl.SSLContext,
        handshake_timeout: float,
    ) -> None:
        self.budget = budget
        self.app = app
        self.context = context
        self.handshake_timeout = handshake_timeout
        self.read_buffer = memoryview(bytearray(TLS_READ_BUFFER))
        """The one buffer the TLS connections of this listener read their sockets into."""

    def factory(self) -> ProtocolFactory:
        """The protocol factory for ``loop.create_server`` (without ``ssl=``)."""
        return lambda: Pending(self)


def plain_factory(budget: ConnectionBudget, app: AppFactory) -> ProtocolFactory:
    """The protocol factory of a plain-HTTP listener."""

    def factory() -> asyncio.BaseProtocol:
        return CountedHTTP(budget, app())

    return factory
