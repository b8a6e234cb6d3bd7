"""What the shutdown does to each kind of connection already open when it starts (issue 27).

The real server (`webhook.server.running.start`) stopped by `Running.stop`, which is what
``vsi-webhook serve`` runs on SIGTERM: the listener closes first, then a connection that has not
finished its TLS handshake, one whose request has not arrived, and one whose request is half-way
are each answered, with ``Connection: close``; a silent one is closed after the quiet time; a
request still being handled when the grace period ends is cut off, and the log counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
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
from webhook.server.budget import SHUTDOWN_QUIET_SECONDS

pytestmark = pytest.mark.asyncio_internals

STEP_DEADLINE = 10.0
"""Bound on each step the server should take promptly; far below 'never'."""
GRACE_OVER = "shutdown grace period over: closing the connections still open"
"""The warning `Running.stop` logs when the grace period ended with connections open."""

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def _request() -> tuple[bytes, bytes]:
    body = orjson.dumps(admission_review(pod()))
    head = (
        b"POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    return head, body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of one answer."""
    async with asyncio.timeout(STEP_DEADLINE):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")[:-2]
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
        body = await reader.readexactly(int(headers["content-length"]))
    return int(lines[0].split(" ", 2)[1]), headers, body


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True once the server closed the connection (EOF or reset)."""
    with contextlib.suppress(ConnectionError):
        async with asyncio.timeout(STEP_DEADLINE):
            while await reader.read(4096):
                pass
    return True


async def _counted(server: Server, wanted: int) -> None:
    async def check() -> bool:
        return server.running.budgets[0].open == wanted

    await wait_for(check, timeout=STEP_DEADLINE, what=f"{wanted} connections counted")


async def test_connections_accepted_before_the_shutdown_get_their_request_answered(
    start_server: StartServer, cert_files: CertFiles, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_server(shutdown_timeout=STEP_DEADLINE)
    port, context = server.running.port, client_context(cert_files.ca_cert)
    before_tls = await asyncio.open_connection("127.0.0.1", port)  # no ClientHello yet
    no_request = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=SNI)
    half_way = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=SNI)
    head, body = _request()
    half_way[1].write(head[:20])
    await _counted(server, 3)

    stopping = asyncio.create_task(server.running.stop())
    await listener_closed(port, timeout=STEP_DEADLINE)
    await before_tls[1].start_tls(context, server_hostname=SNI)
    for (_, writer), data in ((before_tls, head + body), (no_request, head + body)):
        writer.write(data)
    half_way[1].write(head[20:] + body)

    for reader, writer in (before_tls, no_request, half_way):
        status, headers, answer = await _answer(reader)
        assert status == 200, answer
        assert headers["connection"] == "close"
        assert orjson.loads(answer)["response"]["allowed"] is True
        assert await _closed_by_server(reader)
        writer.close()
    await asyncio.wait_for(stopping, STEP_DEADLINE)
    assert GRACE_OVER not in caplog.messages


async def test_silent_connections_are_closed_after_the_quiet_time_not_the_grace_period(
    start_server: StartServer, cert_files: CertFiles, caplog: pytest.LogCaptureFixture
) -> None:
    grace = 6 * SHUTDOWN_QUIET_SECONDS
    server = await start_server(shutdown_timeout=grace, tls_handshake_timeout=grace)
    port, context = server.running.port, client_context(cert_files.ca_cert)
    silent = [
        await asyncio.open_connection("127.0.0.1", port),
        await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=SNI),
    ]
    await _counted(server, 2)

    await asyncio.wait_for(server.running.stop(), grace)

    # Ended by the quiet rule: within the grace period, and nothing logged as cut off.
    assert GRACE_OVER not in caplog.messages
    for reader, writer in silent:
        assert await _closed_by_server(reader)
        writer.close()


async def test_a_review_still_running_when_the_grace_period_ends_is_cut_off_and_counted(
    start_server: StartServer, cert_files: CertFiles, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_server(shutdown_timeout=0.5, read_timeout=STEP_DEADLINE)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1",
        server.running.port,
        ssl=client_context(cert_files.ca_cert),
        server_hostname=SNI,
    )
    head, body = _request()
    writer.write(head + body[:10])  # the handler waits for the rest of the body

    async def handling() -> bool:
        return server.state.in_flight == 1

    await wait_for(handling, timeout=STEP_DEADLINE, what="the review being handled")
    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(server.running.stop(), STEP_DEADLINE)

    assert await _closed_by_server(reader)
    writer.close()
    over = [record for record in caplog.records if record.getMessage() == GRACE_OVER]
    assert len(over) == 1
    assert getattr(over[0], FIELDS_ATTR)["connections"] == 1
