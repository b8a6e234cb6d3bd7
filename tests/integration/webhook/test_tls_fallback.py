"""Issue 25: where asyncio's TLS internals differ, the server serves with asyncio's standard TLS.

`webhook.server.tlscheck` tries, at start-up, what the lean TLS connections rely on. The server
is started here with a TLS protocol whose internals differ the way a future Python's could (it
reads into a buffer of its own, as if asyncio's had another name): the check finds it, the log
says so once, ``vsi_webhook_tls_standard_transport`` is 1, and every kind of connection is served
through ``loop.start_tls`` as before: reviews, the connection budget, the handshake timeout, and
a connection answered after the shutdown began.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from certs.generate import CertFiles
from tests.integration.webhook.conftest import Server, StartServer
from tests.integration.webhook.helpers import (
    SNI,
    admission_review,
    client_context,
    listener_closed,
    pod,
    wait_for,
)
from vsi_common.logs import FIELDS_ATTR
from webhook.server.protocols import TLS_READ_BUFFER, TLSConnection

pytestmark = pytest.mark.asyncio_internals

STEP_DEADLINE = 10.0
"""Bound on each step the server should take promptly."""
FALLBACK = "serving HTTPS with asyncio's standard TLS transport"
"""How the one log line of the fallback starts."""


class OwnReadBuffer(TLSConnection):
    """asyncio's TLS protocol as it would be if its read buffer had another name: the listener's
    buffer, which the lean connections rely on, is never the one read into."""

    def get_buffer(self, n: int) -> memoryview:
        return memoryview(bytearray(TLS_READ_BUFFER))


def _gauge(server: Server) -> float | None:
    return server.state.metrics.registry.get_sample_value("vsi_webhook_tls_standard_transport")


def _fallback_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(FALLBACK)]


async def test_with_internals_that_differ_https_reviews_are_served_by_the_standard_transport(
    start_server: StartServer, cert_files: CertFiles, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        server = await start_server(tls_protocol=OwnReadBuffer, tls_handshake_timeout=0.5)
        for _ in range(3):  # kept alive, then new connections
            answer = await server.client.review(admission_review(pod()))
            assert answer["response"]["patchType"] == "JSONPatch"
        assert (await server.client.get("/readyz"))[0] == 200

        # A socket that never starts TLS is still counted, and closed at the handshake timeout.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.running.port)
        async with asyncio.timeout(STEP_DEADLINE):
            assert await reader.read() == b""
        writer.close()

    (line,) = _fallback_lines(caplog)
    assert "does not read into the buffer it is given" in getattr(line, FIELDS_ATTR)["reason"]
    assert _gauge(server) == 1
    refused = server.state.metrics.registry.get_sample_value(
        "vsi_webhook_connections_refused_total",
        {"listener": "https", "reason": "handshake-timeout"},
    )
    assert refused == 1


async def test_with_internals_that_differ_a_connection_open_at_shutdown_is_still_answered(
    start_server: StartServer, cert_files: CertFiles
) -> None:
    server = await start_server(tls_protocol=OwnReadBuffer)
    context = client_context(cert_files.ca_cert)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.running.port, ssl=context, server_hostname=SNI
    )

    async def counted() -> bool:
        return server.running.budgets[0].open == 1

    await wait_for(counted, timeout=STEP_DEADLINE, what="the connection counted")
    stopping = asyncio.create_task(server.running.stop())
    await listener_closed(server.running.port, timeout=STEP_DEADLINE)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: webhook\r\n\r\n")
    async with asyncio.timeout(STEP_DEADLINE):
        head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"Connection: close" in head
    writer.close()
    await asyncio.wait_for(stopping, STEP_DEADLINE)


async def test_on_this_python_the_lean_tls_connections_serve_and_nothing_is_logged(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        server = await start_server()
    answer = await server.client.review(admission_review(pod()))
    assert answer["response"]["allowed"] is True
    assert _fallback_lines(caplog) == []
    assert _gauge(server) == 0
