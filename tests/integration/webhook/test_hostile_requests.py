"""Issue 12's hostile requests against a real `vsi-webhook serve` process, on loopback.

Eight concurrent gzip bombs (2 MB on the wire, 2 GiB inflated) get 415 without being read and do
not slow the reviews sent meanwhile; a request with broken chunk framing becomes one JSON log
line with the peer and the reason, without its bytes, and is counted as a bad request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import struct
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tests.integration.webhook.helpers import client_context
from tests.integration.webhook.process import DEV_SNI, Process, webhook_process

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
BOMBS = 8
REVIEWS = 30
SLOWDOWN_BOUND = 0.1
"""The issue's bound: no review slowed by more than 100 ms while the bombs arrive."""
MARKER = b"SECRET-VALUE-IN-THE-REQUEST"
DEADLINE = 30.0


def gzip_bomb(inflated_mib: int = 2048) -> bytes:
    """A valid gzip stream of ``inflated_mib`` MiB of zeros, about 1 KB per MiB on the wire.

    Built from one compressed MiB repeated: after a full flush deflate starts afresh, so every
    MiB of zeros compresses to the same bytes (half a second, instead of 6 s of compression).
    """
    mib = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    again = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    assert again == block
    crc = 0
    for _ in range(inflated_mib):
        crc = zlib.crc32(mib, crc)
    size = (inflated_mib << 20) & 0xFFFFFFFF
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + block * inflated_mib + deflate.flush() + struct.pack("<II", crc, size)


def _review_body() -> Callable[[], tuple[bytes, str]]:
    template = json.loads((GOLDEN / "portworx-daemonset" / "request.json").read_text())

    def make() -> tuple[bytes, str]:
        template["request"]["uid"] = uid = str(uuid.uuid4())
        return orjson.dumps(template), uid

    return make


async def _timed_reviews(
    session: aiohttp.ClientSession, process: Process, count: int
) -> list[float]:
    make = _review_body()
    seconds = []
    for _ in range(count):
        body, uid = make()
        started = time.monotonic()
        async with session.post(
            f"https://127.0.0.1:{process.port}/mutate",
            data=body,
            headers={"Content-Type": "application/json"},
            server_hostname=DEV_SNI,
        ) as resp:
            assert resp.status == 200
            answer = await resp.json()
        seconds.append(time.monotonic() - started)
        assert answer["response"]["uid"] == uid
    return seconds


async def _bomb(process: Process, bomb: bytes, started: asyncio.Event) -> int:
    """Send one bomb; the status of its answer. ``started`` is set once the body is flowing.

    The body goes out 64 KiB at a time until the answer arrives, as a client whose server
    stops reading would see it; encrypting all 2 MB up front would only load this process.
    """
    context = client_context(process.dev_ca)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", process.port, ssl=context, server_hostname=DEV_SNI
    )
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    try:
        writer.write(
            b"POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
            b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
        )
        for offset in range(0, len(bomb), 1 << 16):
            if answer.done():
                break
            writer.write(bomb[offset : offset + (1 << 16)])
            started.set()
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        head = await asyncio.wait_for(answer, DEADLINE)
    finally:
        answer.cancel()
        writer.transport.abort()
    return int(head.split(b" ", 2)[1])


async def _review_among_bombs(
    session: aiohttp.ClientSession, process: Process, bomb: bytes
) -> tuple[float, list[int]]:
    """One review sent while eight bombs are arriving: its seconds, and the bombs' statuses."""
    flowing = [asyncio.Event() for _ in range(BOMBS)]
    bombs = [asyncio.create_task(_bomb(process, bomb, event)) for event in flowing]
    async with asyncio.timeout(DEADLINE):
        await asyncio.wait(
            [asyncio.create_task(event.wait()) for event in flowing],
            return_when=asyncio.ALL_COMPLETED,
        )
    (seconds,) = await _timed_reviews(session, process, 1)
    return seconds, list(await asyncio.gather(*bombs))


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


async def test_eight_gzip_bombs_get_415_unread_and_do_not_slow_the_other_reviews() -> None:
    """30 reviews, each sent while eight bombs are flowing, against 30 sent without bombs in the
    same test. A loaded machine stalls a single request now and then, bombs or not, so the
    median and the 90th percentile are compared, with the issue's 100 ms as the allowance
    (before this change, every review was 4.3-5.5 s late)."""
    bomb = gzip_bomb()
    assert len(bomb) > 2_000_000
    async with webhook_process() as process:
        connector = aiohttp.TCPConnector(ssl=client_context(process.dev_ca), limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            await _timed_reviews(session, process, 10)  # warm up
            quiet = await _timed_reviews(session, process, REVIEWS)
            loaded: list[float] = []
            statuses: list[int] = []
            for _ in range(REVIEWS):
                seconds, answers = await _review_among_bombs(session, process, bomb)
                loaded.append(seconds)
                statuses += answers
        status, metrics = await _get_metrics(process)

    assert set(statuses) == {415}
    assert len(statuses) == BOMBS * REVIEWS
    assert status == 200
    assert f'vsi_webhook_bad_requests_total{{reason="unsupported-encoding"}} {len(statuses)}.0' in (
        metrics
    )
    facts = f"quiet {sorted(quiet)}, with bombs {sorted(loaded)}"
    assert statistics.median(loaded) < statistics.median(quiet) + SLOWDOWN_BOUND, facts
    assert _p90(loaded) < _p90(quiet) + SLOWDOWN_BOUND, facts


async def _get_metrics(process: Process) -> tuple[int, str]:
    connector = aiohttp.TCPConnector(ssl=client_context(process.dev_ca))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(f"https://127.0.0.1:{process.port}/metrics", server_hostname=DEV_SNI) as resp,
    ):
        return resp.status, await resp.text()


async def test_broken_chunk_framing_is_one_json_line_without_the_bytes_and_is_counted() -> None:
    async with webhook_process() as process:
        before = len(process.raw)
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", process.port, ssl=client_context(process.dev_ca), server_hostname=DEV_SNI
        )
        writer.write(
            b"POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz-" + MARKER + b"\r\n{}\r\n0\r\n\r\n"
        )
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE)
        writer.close()
        deadline = time.monotonic() + DEADLINE
        while len(process.raw) == before:
            assert time.monotonic() < deadline, "no log line for the broken request"
            await asyncio.sleep(0.05)
        status, metrics = await _get_metrics(process)
        await asyncio.sleep(0.2)  # a second line, if there were one, would be written by now
        new = process.raw[before:]

    assert b" 400 " in answer.split(b"\r\n", 1)[0]
    assert len(new) == 1, new
    line: dict[str, Any] = json.loads(new[0])
    assert line["msg"] == "bad request"
    assert line["status"] == 400
    assert line["reason"] == "bad-chunked-encoding"
    assert line["peer"] == "127.0.0.1"
    assert MARKER not in new[0]
    assert all(MARKER not in raw for raw in process.raw)
    assert status == 200
    assert 'vsi_webhook_bad_requests_total{reason="bad-chunked-encoding"} 1.0' in metrics
