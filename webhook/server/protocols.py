"""How an accepted socket speaks: TLS that costs little memory, asyncio's own TLS, or plain HTTP.

asyncio's own TLS transport allocates a 256 KiB read buffer for every accepted connection, before
the handshake, and OpenSSL holds its handshake buffers for a connection that never sends its
ClientHello (measured in ``docs/server.md``). So the listeners accept plain TCP, count each
connection in its `webhook.server.budget.ConnectionBudget`, and:

- start TLS only when the client's first bytes arrive (`Pending`), within the handshake timeout;
- speak TLS with asyncio's own protocol (`TLSConnection`), whose read buffer is one buffer per
  listener instead of one per connection: asyncio reads into it and copies into OpenSSL's input
  in the same call, on the one event-loop thread, so connections never share its contents.

`TLSConnection` relies on private details of CPython's ``asyncio.sslproto``. `lean_tls_problem`
checks them once at start-up, by trying them (never by version number); where they differ, the
listener uses `StandardTLS` instead: asyncio's public ``loop.start_tls``, which serves the same
but costs asyncio's memory per connection.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any, Final

from webhook.server.budget import ConnectionBudget, Slot

try:
    from asyncio import sslproto

    _BASE: type[Any] = sslproto.SSLProtocol
except (ImportError, AttributeError):  # pragma: no cover - a Python without asyncio.sslproto
    _BASE = asyncio.BufferedProtocol

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


class TLSConnection(_BASE):  # type: ignore[misc]
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
            None,  # no waiter: nothing awaits the handshake
            server_side=True,
            ssl_handshake_timeout=handshake_timeout,
            ssl_shutdown_timeout=TLS_SHUTDOWN_TIMEOUT,
        )
        # asyncio allocates max_size bytes here and reads into them only inside
        # get_buffer() -> recv_into() -> buffer_updated(), which copies them into OpenSSL at once.
        self._ssl_buffer = read_buffer.obj
        self._ssl_buffer_view = read_buffer
        # What the app transport's set_read_buffer_limits() calls; that transport is made later.
        self._set_read_buffer_limits(high=TLS_INPUT_HIGH_WATER)
        self._budget = budget
        self._slot = slot

    def buffer_updated(self, nbytes: int) -> None:
        self._budget.touch(self._slot)
        super().buffer_updated(nbytes)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._budget.release(self._slot)
        super().connection_lost(exc)


TLSProtocol = type[TLSConnection]
"""The lean TLS protocol class a listener uses (a test passes one whose internals differ)."""


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
        assert listener.lean is not None
        http = listener.app()
        listener.budget.attach(slot, http)
        tls = listener.lean(
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
    releases it. Plain-HTTP listeners admit the socket here; `StandardTLS` passes its slot."""

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


class StandardTLS(asyncio.Protocol):
    """A counted TLS connection over asyncio's public ``loop.start_tls`` (its memory per
    connection), for a Python whose asyncio internals `TLSConnection` cannot rely on."""

    def __init__(self, listener: TLSListener) -> None:
        self._listener = listener
        self._slot: Slot | None = None
        self._lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._slot = self._listener.budget.admit(transport)
        reading: Any = transport
        reading.pause_reading()  # no byte is read before start_tls owns the socket
        task = asyncio.get_running_loop().create_task(self._start(reading, self._slot))
        self._listener.handshakes.add(task)  # the loop keeps only a weak reference
        task.add_done_callback(self._listener.handshakes.discard)

    async def _start(self, transport: Any, slot: Slot) -> None:
        listener = self._listener
        if self._lost:
            return
        http = CountedHTTP(listener.budget, listener.app(), slot)
        try:
            tls = await asyncio.get_running_loop().start_tls(
                transport,
                http,
                listener.context,
                server_side=True,
                ssl_handshake_timeout=listener.handshake_timeout,
                ssl_shutdown_timeout=TLS_SHUTDOWN_TIMEOUT,
            )
        except ConnectionAbortedError:  # asyncio's handshake timeout
            listener.budget.on_handshake_timeout()
            listener.budget.release(slot)
            return
        except Exception:  # a failed handshake (bad hello, reset, EOF): nothing to answer
            listener.budget.release(slot)
            return
        if tls is None:  # pragma: no cover - start_tls returns None only with a closed loop
            listener.budget.release(slot)
            return
        listener.budget.touch(slot)
        http.connection_made(tls)

    def connection_lost(self, exc: Exception | None) -> None:
        # Only while the socket is still ours (before start_tls took it over).
        self._lost = True
        self._listener.budget.release(self._slot)


class TLSListener:
    """What every connection of one HTTPS listener shares, and its protocol factory."""

    def __init__(
        self,
        budget: ConnectionBudget,
        app: AppFactory,
        context: ssl.SSLContext,
        handshake_timeout: float,
        lean: TLSProtocol | None = TLSConnection,
    ) -> None:
        self.budget = budget
        self.app = app
        self.context = context
        self.handshake_timeout = handshake_timeout
        self.lean = lean
        """The lean TLS protocol (`lean_tls_problem` found none); None: `StandardTLS`."""
        self.read_buffer = memoryview(bytearray(TLS_READ_BUFFER if lean is not None else 0))
        """The one buffer the lean TLS connections of this listener read their sockets into."""
        self.handshakes: set[asyncio.Task[None]] = set()
        """`StandardTLS` handshakes under way."""

    def factory(self) -> ProtocolFactory:
        """The protocol factory for ``loop.create_server`` (without ``ssl=``)."""
        if self.lean is not None:
            return lambda: Pending(self)
        return lambda: StandardTLS(self)


def plain_factory(budget: ConnectionBudget, app: AppFactory) -> ProtocolFactory:
    """The protocol factory of a plain-HTTP listener."""

    def factory() -> asyncio.BaseProtocol:
        return CountedHTTP(budget, app())

    return factory
