"""The start-up check that this Python's asyncio internals are what `TLSConnection` relies on.

`webhook.server.protocols.TLSConnection` overwrites private parts of CPython's
``asyncio.sslproto.SSLProtocol`` (its read buffer, its paused-reading limit). A Python whose
``sslproto`` differs could leave those parts unused (asyncio's memory per connection again) or,
worse, read TLS records from a buffer nobody writes. So once, before the HTTPS listener starts,
`lean_tls_problem` tries them: it builds one connection, checks that its read buffer is the
listener's and its limit the one set, then runs a TLS handshake and one request through it in
memory, as the socket transport would. Any difference makes the listener use asyncio's standard
TLS transport instead (`webhook.server.protocols.StandardTLS`). It tries features, never a version
number.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any, Final

from webhook.server.budget import ConnectionBudget
from webhook.server.protocols import (
    TLS_INPUT_HIGH_WATER,
    TLS_READ_BUFFER,
    TLSConnection,
    TLSProtocol,
)

PROBE: Final = b"GET /readyz HTTP/1.1\r\nHost: lean-tls-check\r\n\r\n"
"""What the check sends through the TLS connection once the handshake is done."""
CHECK_HOSTNAME: Final = "lean-tls-check.invalid"
"""The SNI name of the check's handshake (the serving certificate's names do not matter)."""
HANDSHAKE_FLIGHTS: Final = 8
"""Rounds of client and server messages the check allows (TLS 1.2 and 1.3 need two or three)."""


class _Socket(asyncio.Transport):
    """The socket side of the check: what the connection writes, kept for the client."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self._closing = False
        self._protocol: asyncio.BaseProtocol | None = None

    def write(self, data: Any) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def abort(self) -> None:
        self._closing = True

    def _force_close(self, exc: BaseException | None) -> None:
        # What asyncio's TLS protocol calls on a fatal error (a private method of its transports).
        self._closing = True

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None

    def get_write_buffer_size(self) -> int:
        return 0

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol


class _App(asyncio.Protocol):
    """The HTTP side of the check: whether it was connected, and what it received."""

    def __init__(self) -> None:
        self.connected = False
        self.received = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connected = True

    def data_received(self, data: bytes) -> None:
        self.received += data


def _feed(conn: Any, data: bytes) -> None:
    """Hand ``data`` to ``conn`` the way asyncio's socket transport does: into its buffer."""
    while data:
        view = conn.get_buffer(-1)
        size = min(len(view), len(data))
        view[:size] = data[:size]
        conn.buffer_updated(size)
        data = data[size:]


def _client() -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    return context.wrap_bio(incoming, outgoing, server_hostname=CHECK_HOSTNAME), incoming, outgoing


def _talk(conn: Any, socket: _Socket, app: _App) -> str | None:
    """A handshake and `PROBE` through ``conn``; what went wrong, or None."""
    client, incoming, outgoing = _client()
    for _ in range(HANDSHAKE_FLIGHTS):
        try:
            client.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        _feed(conn, outgoing.read())
        incoming.write(bytes(socket.written))
        socket.written.clear()
    else:
        return "a TLS handshake fed through its read buffer did not complete"
    client.write(PROBE)
    _feed(conn, outgoing.read())
    if not app.connected or bytes(app.received) != PROBE:
        return "bytes fed through its read buffer did not reach the HTTP protocol"
    return None


def lean_tls_problem(context: ssl.SSLContext, protocol: TLSProtocol = TLSConnection) -> str | None:
    """Why ``protocol`` cannot serve TLS on this Python, in a few words; None when it can.

    ``context`` is the server's own (with its certificate). Runs in the event loop, in about a
    millisecond, touching no socket.
    """
    budget = ConnectionBudget(1)
    shared = memoryview(bytearray(TLS_READ_BUFFER))
    socket = _Socket()
    app = _App()
    conn: Any = None
    try:
        conn = protocol(budget, budget.admit(socket), app, context, 5.0, shared)
        view = conn.get_buffer(-1)
        if view.obj is not shared.obj or len(view) != TLS_READ_BUFFER:
            return "asyncio's TLS protocol does not read into the buffer it is given"
        if getattr(conn, "_incoming_high_water", None) != TLS_INPUT_HIGH_WATER:
            return "asyncio's TLS protocol does not keep the read limit it is given"
        conn.connection_made(socket)
        return _talk(conn, socket, app)
    except Exception as exc:  # any difference at all: the standard transport serves
        return f"asyncio's TLS protocol differs ({type(exc).__name__}: {exc})"
    finally:
        if conn is not None:
            # The check's own clean-up: whatever it raises, the verdict stands.
            with contextlib.suppress(Exception):
                conn.connection_lost(None)
