"""Requests that try to cost the server more than a review: compressed bodies, broken framing,
clients that leave mid-body, and more bodies arriving at once than the body budget holds."""

from __future__ import annotations

import asyncio
import gzip
import logging

import orjson
import pytest

from certs.generate import CertFiles
from tests.integration.webhook.conftest import Server, StartServer
from tests.integration.webhook.helpers import SNI, admission_review, client_context, pod, wait_for

MARKER = b"SECRET-VALUE-IN-THE-REQUEST"
"""Bytes a request carries that must never reach a log line."""
DEADLINE = 10.0


def _bad(server: Server, reason: str) -> float:
    value = server.state.metrics.registry.get_sample_value(
        "vsi_webhook_bad_requests_total", {"reason": reason}
    )
    return value or 0.0


async def _send(
    server: Server, cert_files: CertFiles, data: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1",
        server.running.port,
        ssl=client_context(cert_files.ca_cert),
        server_hostname=SNI,
    )
    writer.write(data)
    await writer.drain()
    return reader, writer


async def _answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """(status line and headers, body) of one response."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await asyncio.wait_for(reader.readexactly(length), DEADLINE)


def _head(length: int, *extra: bytes) -> bytes:
    lines = [
        b"POST /mutate HTTP/1.1",
        b"Host: webhook",
        b"Content-Type: application/json",
        b"Content-Length: %d" % length,
        *extra,
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def test_a_compressed_body_is_refused_with_415_before_it_is_read(
    server: Server, cert_files: CertFiles
) -> None:
    bomb = gzip.compress(b"\0" * 10_000_000)
    # Only the start of the body is sent: the answer must not wait for the rest.
    reader, writer = await _send(
        server, cert_files, _head(len(bomb), b"Content-Encoding: gzip") + bomb[:100]
    )
    head, body = await _answer(reader)
    writer.close()
    assert head.startswith(b"HTTP/1.1 415 ")
    assert b"Connection: close" in head
    assert body == b"Content-Encoding must be identity: compressed bodies are not accepted\n"
    assert _bad(server, "unsupported-encoding") == 1


@pytest.mark.parametrize("encoding", ["identity", "IDENTITY ", ""])
async def test_an_identity_encoding_is_a_plain_body(server: Server, encoding: str) -> None:
    review = admission_review(pod())
    async with server.client.session.post(
        f"{server.client.base}/mutate",
        data=orjson.dumps(review),
        headers={"Content-Type": "application/json", "Content-Encoding": encoding},
        server_hostname=SNI,
    ) as resp:
        assert resp.status == 200
        answer = await resp.json()
    assert answer["response"]["uid"] == review["request"]["uid"]


async def test_broken_chunk_framing_is_one_bad_request_line_without_the_bytes(
    server: Server, cert_files: CertFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    request = (
        b"POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz-" + MARKER + b"\r\n{}\r\n0\r\n\r\n"
    )
    reader, writer = await _send(server, cert_files, request)
    head, _ = await _answer(reader)
    writer.close()

    assert head.startswith(b"HTTP/1.0 400 ") or head.startswith(b"HTTP/1.1 400 ")
    assert _bad(server, "bad-chunked-encoding") == 1
    lines = [r for r in caplog.records if r.getMessage() == "bad request"]
    assert len(lines) == 1
    fields = lines[0].vsi_fields  # type: ignore[attr-defined]
    assert fields == {
        "status": 400,
        "reason": "bad-chunked-encoding",
        "error": "broken chunked transfer encoding",
        "peer": "127.0.0.1",
    }
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert MARKER.decode() not in caplog.text


async def test_a_client_that_leaves_mid_body_is_one_line_not_a_traceback(
    server: Server, cert_files: CertFiles, caplog: pytest.LogCaptureFixture
) -> None:
    _, writer = await _send(server, cert_files, _head(1000) + b'{"kind": ' + MARKER)
    await wait_for(
        lambda: _true(server.state.in_flight == 1), timeout=DEADLINE, what="the review read"
    )
    writer.close()
    await wait_for(
        lambda: _true(_bad(server, "incomplete-body") == 1),
        timeout=DEADLINE,
        what="the review counted as incomplete",
    )
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert MARKER.decode() not in caplog.text


async def _true(value: bool) -> bool:
    return value


def _in_flight(server: Server) -> float:
    value = server.state.metrics.registry.get_sample_value("vsi_webhook_body_bytes_in_flight")
    return value or 0.0


async def test_a_body_waits_for_room_in_the_body_budget_and_then_is_read(
    start_server: StartServer, cert_files: CertFiles
) -> None:
    server = await start_server(max_body_bytes_in_flight=100, read_timeout=5.0)
    first = await _send(server, cert_files, _head(80) + b"[")
    await wait_for(lambda: _true(_in_flight(server) == 80), timeout=DEADLINE, what="80 reserved")
    second = await _send(server, cert_files, _head(80) + b"[")
    await wait_for(
        lambda: _true(server.state.in_flight == 2), timeout=DEADLINE, what="both handled"
    )
    assert _in_flight(server) == 80  # the second waits: 160 would not fit

    first[1].write(b" " * 78 + b"]")
    head, body = await _answer(first[0])
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"not a JSON object" in body
    await wait_for(lambda: _true(_in_flight(server) == 80), timeout=DEADLINE, what="second in")
    second[1].write(b" " * 78 + b"]")
    head, body = await _answer(second[0])
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"not a JSON object" in body
    assert _in_flight(server) == 0
    for _, writer in (first, second):
        writer.close()


async def test_a_body_that_finds_no_room_within_the_read_timeout_gets_503(
    start_server: StartServer, cert_files: CertFiles
) -> None:
    server = await start_server(max_body_bytes_in_flight=100, read_timeout=1.0)
    # Another body holds the room for longer than this one may wait.
    assert server.state.bodies.try_take(80)
    waiting = await _send(server, cert_files, _head(80) + b"[")

    head, body = await _answer(waiting[0])

    assert head.startswith(b"HTTP/1.1 503 ")
    assert b"Connection: close" in head
    assert body == b"too many request bodies arriving at once: try again\n"
    assert _bad(server, "bodies-in-flight") == 1
    assert _in_flight(server) == 80
    server.state.bodies.give_back(80)
    waiting[1].close()
