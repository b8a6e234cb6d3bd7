"""The connection budget on the running server: a cap that evicts the longest-silent connection,
a handshake timeout for sockets that never start TLS, and the gauges and counters that show it."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from certs.generate import CertFiles
from tests.integration.webhook.conftest import Server, StartServer
from tests.integration.webhook.helpers import SNI, admission_review, client_context, pod, wait_for

pytestmark = pytest.mark.asyncio_internals

CLOSE_DEADLINE = 10.0
"""Generous bound for the server to close a connection it should close; far below 'never'."""


def _sample(server: Server, name: str, **labels: str) -> float:
    value = server.state.metrics.registry.get_sample_value(f"vsi_webhook_{name}", labels)
    return value or 0.0


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Wait until the server closes the connection (EOF or reset); False if it stays open."""
    try:
        async with asyncio.timeout(CLOSE_DEADLINE):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


async def _tls(
    server: Server, cert_files: CertFiles
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(
        "127.0.0.1",
        server.running.port,
        ssl=client_context(cert_files.ca_cert),
        server_hostname=SNI,
    )


async def test_a_socket_that_never_starts_tls_is_closed_at_the_handshake_timeout(
    start_server: StartServer,
) -> None:
    server = await start_server(tls_handshake_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.running.port)
    started = time.monotonic()
    await wait_for(
        lambda: _async(_sample(server, "connections", listener="https") == 1),
        timeout=5,
        what="the connection counted",
    )
    assert await _closed_by_server(reader)
    assert time.monotonic() - started >= 0.4  # closed by the timeout, not at accept
    writer.close()
    await wait_for(
        lambda: _async(_sample(server, "connections", listener="https") == 0),
        timeout=5,
        what="the gauge back at 0",
    )
    timeouts = _sample(
        server, "connections_refused_total", listener="https", reason="handshake-timeout"
    )
    assert timeouts == 1


async def _async(value: bool) -> bool:
    return value


async def _healthz(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """GET /healthz on an open keep-alive connection: the start of the status line."""
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CLOSE_DEADLINE)
    await asyncio.wait_for(reader.readexactly(3), CLOSE_DEADLINE)  # "ok\n"
    return head[:13]


async def test_at_the_cap_the_longest_silent_connection_makes_room_and_reviews_go_on(
    start_server: StartServer, cert_files: CertFiles
) -> None:
    server = await start_server(max_connections=3)
    silent = [await _tls(server, cert_files) for _ in range(3)]
    await wait_for(
        lambda: _async(_sample(server, "connections", listener="https") == 3),
        timeout=5,
        what="three connections counted",
    )
    # The second one is used: the first is now the one silent longest.
    assert await _healthz(*silent[1]) == b"HTTP/1.1 200 "

    answer = await server.client.review(admission_review(pod()))

    assert answer["response"]["allowed"] is True
    assert await _closed_by_server(silent[0][0])
    assert _sample(server, "connections_refused_total", listener="https", reason="evicted") >= 1
    assert _sample(server, "connections", listener="https") <= 3
    # The one that was used is kept, and still answers.
    assert await _healthz(*silent[1]) == b"HTTP/1.1 200 "
    for _, writer in silent:
        with contextlib.suppress(ConnectionError):
            writer.close()
