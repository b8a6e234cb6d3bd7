"""Network faults no real Vault produces on demand: trickling answers, TLS handshakes cut short.

A small local TCP server plays the broken peer. The deadline must bound the run whatever the peer
does (the watchdog ends a run a per-read timeout cannot), and a TLS handshake cut by a restarting
Vault or a load balancer without backends is retried, not fatal.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.injector.conftest import error_lines, run_injector

DEADLINE = "2"
GENEROUS = 30.0
"""Subprocess limit: a run with a 2 s deadline must end well before this."""

Handler = Callable[[socket.socket, threading.Event], None]


class PeerServer:
    """A TCP server on 127.0.0.1 that hands each connection to ``handler`` in its own thread."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.connections = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            self._handler(conn, self._stop)

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone does not
        self._listener.close()
        self._thread.join(timeout=5)


def _trickle_body(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    # A length under the transport's answer limit: an oversized answer is refused unread.
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    while not stop.wait(1):
        conn.sendall(b" ")


def _trickle_headers(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not stop.wait(1):
        conn.sendall(b"X-A: b\r\n")


def _close_at_once(conn: socket.socket, stop: threading.Event) -> None:
    """Accept and close: the client's TLS handshake ends in EOF (a backend-less load balancer)."""


@pytest.fixture
def peer() -> Iterator[Callable[[Handler], PeerServer]]:
    servers: list[PeerServer] = []

    def start(handler: Handler) -> PeerServer:
        server = PeerServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _env(addr: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "VAULT_ADDR": addr,
        "VAULT_TOKEN": "test-token",
        "VAULT_BACKEND": "kv-v2",
        "VSI_NAMESPACE": "ns",
    }


def _args(out_dir: Path) -> tuple[str | Path, ...]:
    return ("--layout", "volume-keys", "--volume", "vol", "--output-dir", out_dir)


@pytest.mark.parametrize("handler", [_trickle_body, _trickle_headers], ids=["body", "headers"])
def test_a_trickling_server_cannot_keep_the_run_past_its_deadline(
    peer: Callable[[Handler], PeerServer], out_dir: Path, handler: Handler
) -> None:
    server = peer(handler)
    (out_dir / "vol").write_bytes(b"stale key from an earlier run")

    result = run_injector(
        _env(f"http://127.0.0.1:{server.port}"),
        *_args(out_dir),
        "--deadline",
        DEADLINE,
        timeout=GENEROUS,
    )

    assert result.code == 1
    assert f"deadline of {DEADLINE} s exceeded while reading " in result.stderr
    assert "vault-storage-injector/ns/vol" in result.stderr
    assert len(error_lines(result.stderr)) == 1
    assert list(out_dir.iterdir()) == []


def test_a_tls_handshake_cut_short_is_retried_until_the_deadline(
    peer: Callable[[Handler], PeerServer], out_dir: Path
) -> None:
    server = peer(_close_at_once)

    result = run_injector(
        _env(f"https://127.0.0.1:{server.port}"),
        *_args(out_dir),
        "--deadline",
        DEADLINE,
        timeout=GENEROUS,
    )

    assert result.code == 1
    assert f"gave up at the {DEADLINE}s deadline" in result.stderr
    assert "TLS error" in result.stderr
    assert server.connections >= 2
    assert list(out_dir.iterdir()) == []
