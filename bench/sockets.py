"""Hostile clients of the connection budget: idle TLS sockets and TCP sockets that never handshake.

An attacker on the pod network needs no valid request to cost the webhook memory: a TCP connection
that never starts TLS, or a TLS connection that never sends a request, each hold server buffers
until a timeout closes them. These helpers open many of either kind against 127.0.0.1 only, in
batches (so the listen backlog never overflows into SYN retries), driven by one selector without
threads, and bounded by a deadline. The benchmark and the acceptance tests share them.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

LOOPBACK: Final = "127.0.0.1"
"""The only address these helpers connect to."""
BATCH: Final = 100
"""Connections in flight at once: below the listen backlog, so no SYN is dropped and retried."""


class FloodError(Exception):
    """The sockets could not be opened within the deadline."""


@dataclass
class Opened:
    """Sockets a flood opened, and how many the server closed or refused while it ran."""

    sockets: list[socket.socket] = field(default_factory=list)
    failed: int = 0
    """Connections the server refused, reset or closed before they were fully open."""

    def close(self) -> None:
        """Close every socket (RST-free: an ordinary close)."""
        close_all(self.sockets)
        self.sockets.clear()


def close_all(sockets: Iterable[socket.socket]) -> None:
    """Close ``sockets``, ignoring the ones the server already closed."""
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.close()


def _connecting(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    code = sock.connect_ex((LOOPBACK, port))
    if code not in (0, errno.EINPROGRESS):
        sock.close()
        raise OSError(code, f"cannot connect to {LOOPBACK}:{port}")
    return sock


def _connected(sock: socket.socket) -> bool:
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


def open_tcp(port: int, count: int, *, deadline: float = 60.0) -> Opened:
    """``count`` TCP connections that never send a byte (a TLS handshake that never starts)."""
    return _flood(port, count, None, "", deadline)


def open_tls(
    port: int,
    count: int,
    context: ssl.SSLContext,
    server_hostname: str,
    *,
    deadline: float = 60.0,
) -> Opened:
    """``count`` TLS connections, handshake completed, that then send nothing (idle)."""
    return _flood(port, count, context, server_hostname, deadline)


def _flood(
    port: int,
    count: int,
    context: ssl.SSLContext | None,
    server_hostname: str,
    deadline: float,
) -> Opened:
    opened = Opened()
    limit = time.monotonic() + deadline
    selector = selectors.DefaultSelector()
    pending = 0
    started = 0
    try:
        while len(opened.sockets) + opened.failed < count:
            while pending < BATCH and started < count:
                sock = _connecting(port)
                selector.register(sock, selectors.EVENT_WRITE, "connect")
                pending += 1
                started += 1
            if time.monotonic() > limit:
                raise FloodError(
                    f"opened {len(opened.sockets)} of {count} connections in {deadline:g} s"
                )
            for key, _ in selector.select(timeout=0.5):
                done = _step(selector, key, context, server_hostname, opened)
                pending -= done
    finally:
        for key in list(selector.get_map().values()):
            selector.unregister(key.fileobj)
            close_all([key.fileobj])  # type: ignore[list-item]
        selector.close()
    return opened


def _step(
    selector: selectors.BaseSelector,
    key: selectors.SelectorKey,
    context: ssl.SSLContext | None,
    server_hostname: str,
    opened: Opened,
) -> int:
    """Advance one connection; 1 when it is finished (open or failed), else 0."""
    sock = key.fileobj
    assert isinstance(sock, socket.socket)
    if key.data == "connect":
        selector.unregister(sock)
        if not _connected(sock):
            sock.close()
            opened.failed += 1
            return 1
        if context is None:
            opened.sockets.append(sock)
            return 1
        sock = context.wrap_socket(
            sock, server_hostname=server_hostname, do_handshake_on_connect=False
        )
        selector.register(sock, selectors.EVENT_WRITE | selectors.EVENT_READ, "handshake")
        return 0
    assert isinstance(sock, ssl.SSLSocket)
    try:
        sock.do_handshake()
    except ssl.SSLWantReadError:
        selector.modify(sock, selectors.EVENT_READ, "handshake")
        return 0
    except ssl.SSLWantWriteError:
        selector.modify(sock, selectors.EVENT_WRITE, "handshake")
        return 0
    except OSError:
        selector.unregister(sock)
        sock.close()
        opened.failed += 1
        return 1
    selector.unregister(sock)
    opened.sockets.append(sock)
    return 1


def review_on_each(opened: list[socket.socket], body: bytes, *, timeout: float = 30.0) -> None:
    """POST ``body`` to /mutate on each open TLS socket and read the whole answer, keeping the
    connection open (what the apiserver's kept-alive connections look like between reviews)."""
    head = (
        b"POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    for sock in opened:
        sock.settimeout(timeout)
        sock.sendall(head + body)
    for sock in opened:
        _read_answer(sock)


def _read_answer(sock: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise FloodError("the server closed a connection before answering")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise FloodError("the server closed a connection in the middle of its answer")
        rest += chunk
