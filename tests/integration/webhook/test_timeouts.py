"""A slow or stuck client cannot hold a connection: raw TLS sockets that trickle bytes."""

from __future__ import annotations

import asyncio
import time

from certs.generate import CertFiles
from tests.integration.webhook.conftest import StartServer
from tests.integration.webhook.helpers import SNI, client_context

TIMEOUT = 1.0
"""The idle/read timeout the server under test gets."""
CLOSE_DEADLINE = 8.0
"""Generous bound on timeout + lingering (2 s) + scheduling; far below 'forever'."""


async def _trickle_until_closed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, drip: bytes
) -> tuple[float, bytes]:
    """Send one byte of ``drip`` every 0.1 s until the server closes; (seconds, bytes received)."""
    started = time.monotonic()
    received = b""

    async def read_all() -> None:
        nonlocal received
        while chunk := await reader.read(4096):
            received += chunk

    reading = asyncio.create_task(read_all())
    try:
        async with asyncio.timeout(CLOSE_DEADLINE):
            for index in range(10_000):
                if reading.done():
                    break
                try:
                    writer.write(drip[index % len(drip) : index % len(drip) + 1])
                    await writer.drain()
                except (ConnectionError, RuntimeError):
                    break
                await asyncio.wait([reading], timeout=0.1)
            await reading
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open {CLOSE_DEADLINE} s") from None
    except (ConnectionError, OSError):
        pass
    finally:
        reading.cancel()
        writer.close()
    return time.monotonic() - started, received


async def test_headers_that_trickle_are_cut_off_by_the_idle_timeout(
    start_server: StartServer, cert_files: CertFiles
) -> None:
    server = await start_server(idle_timeout=TIMEOUT, read_timeout=TIMEOUT)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1",
        server.running.port,
        ssl=client_context(cert_files.ca_cert),
        server_hostname=SNI,
    )
    writer.write(b"POST /mutate HTTP/1.1\r\nHost: x\r\n")
    elapsed, _ = await _trickle_until_closed(reader, writer, b"X-Slow: aaaaaaaaaaaaaaaaaaaa")
    assert elapsed < CLOSE_DEADLINE


async def test_a_body_that_trickles_gets_408_and_the_connection_closed(
    start_server: StartServer, cert_files: CertFiles
) -> None:
    server = await start_server(idle_timeout=30.0, read_timeout=TIMEOUT)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1",
        server.running.port,
        ssl=client_context(cert_files.ca_cert),
        server_hostname=SNI,
    )
    writer.write(
        b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n{"
    )
    elapsed, received = await _trickle_until_closed(reader, writer, b" ")
    assert elapsed < CLOSE_DEADLINE
    assert received.startswith(b"HTTP/1.1 408 ")
    assert b"body not received within 1 s" in received
    assert server.state.metrics.bad_requests.labels("read-timeout")._value.get() == 1


async def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(
    start_server: StartServer, cert_files: CertFiles
) -> None:
    server = await start_server(idle_timeout=TIMEOUT)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1",
        server.running.port,
        ssl=client_context(cert_files.ca_cert),
        server_hostname=SNI,
    )
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    started = time.monotonic()
    async with asyncio.timeout(CLOSE_DEADLINE):
        data = b""
        while chunk := await reader.read(4096):
            data += chunk
    writer.close()
    assert data.startswith(b"HTTP/1.1 200 ")
    assert time.monotonic() - started < CLOSE_DEADLINE
