"""Issue 12's connection floods against a real `vsi-webhook serve` process, on loopback.

2 000 TLS sockets that handshake and then stay silent, and 1 000 TCP sockets that never start TLS,
opened against the default connection cap: a review sent meanwhile is answered in under 1 s, the
process stays inside the memory the docs budget for the cap, and gives the memory back once the
sockets close. Bounded: 3 000 sockets, each step under a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import ssl
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench import sockets
from tests.integration.webhook.helpers import client_context, wait_for
from tests.integration.webhook.process import DEV_SNI, Process, webhook_process
from webhook.server.settings import DEFAULT_MAX_CONNECTIONS

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
IDLE_TLS = 2000
NEVER_TLS = 1000
REVIEW_BOUND = 1.0
"""The issue's bound on a legitimate review during the flood, seconds."""
CONNECTION_KIB = 100
"""What docs/server.md budgets per connection (the measured worst, a body waiting for room, is
96 KiB; an idle one is 26 KiB)."""
NEAR_BASELINE_MIB = 16.0
"""How far above its baseline RSS may stay once the sockets closed: Python keeps the memory
pools that still hold a live object (6-13 MiB measured after 1 000-2 000 connections); without
the budget and the trim, the issue measured 557 MiB still held."""
EVICTED = "vsi_webhook_connections_refused_total"
EVICTION_DEADLINE = 30.0
"""How long the server may take to accept (and evict for) sockets still in its accept queue."""
RETURN_DEADLINE = 30.0
"""The trim runs every 5 s once 256 connections closed; this leaves room for a loaded machine."""


async def _review(process: Process) -> tuple[float, dict[str, Any], str]:
    """One review on a new connection: (seconds, the response, the uid sent)."""
    review = json.loads((GOLDEN / "portworx-daemonset" / "request.json").read_text())
    review["request"]["uid"] = uid = str(uuid.uuid4())
    connector = aiohttp.TCPConnector(ssl=client_context(process.dev_ca), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        async with session.post(
            f"https://127.0.0.1:{process.port}/mutate",
            data=orjson.dumps(review),
            headers={"Content-Type": "application/json"},
            server_hostname=DEV_SNI,
            timeout=aiohttp.ClientTimeout(total=30),
        ) as resp:
            assert resp.status == 200
            answer: dict[str, Any] = await resp.json()
        return time.monotonic() - started, answer["response"], uid


async def _peak_rss(process: Process, stop: asyncio.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], process.rss_mib())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


async def _metric(process: Process, name: str) -> float:
    status, text = await _get(process, "/metrics")
    assert status == 200
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and 'listener="https"' in line
    )


async def _reached(process: Process, name: str, wanted: int) -> bool:
    return await _metric(process, name) >= wanted


async def _get(process: Process, path: str) -> tuple[int, str]:
    connector = aiohttp.TCPConnector(ssl=client_context(process.dev_ca), force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(f"https://127.0.0.1:{process.port}{path}", server_hostname=DEV_SNI) as resp,
    ):
        return resp.status, await resp.text()


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE_TLS + NEVER_TLS + 500
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


async def test_idle_and_never_handshaking_floods_keep_memory_bounded_and_reviews_answered() -> None:
    _raise_fd_limit()
    async with webhook_process() as process:
        for _ in range(10):  # warm up: the first reviews load code and build caches
            await _review(process)
        baseline = process.rss_mib()
        context = ssl.create_default_context(cafile=str(process.dev_ca))
        stop = asyncio.Event()
        peak = [baseline]
        sampler = asyncio.create_task(_peak_rss(process, stop, peak))
        idle = never = None
        try:
            idle = await asyncio.to_thread(
                sockets.open_tls, process.port, IDLE_TLS, context, DEV_SNI, deadline=120
            )
            never = await asyncio.to_thread(sockets.open_tcp, process.port, NEVER_TLS, deadline=60)
            seconds, response, uid = await _review(process)
            open_now = await _metric(process, "vsi_webhook_connections{")
            # A socket whose connect() returned may still wait in the kernel's accept queue:
            # the server counts its eviction a little later (the counter only grows).
            await wait_for(
                lambda: _reached(process, EVICTED, IDLE_TLS + NEVER_TLS - DEFAULT_MAX_CONNECTIONS),
                timeout=EVICTION_DEADLINE,
                what="the evictions of the flood",
            )
            evicted = await _metric(process, EVICTED)
        finally:
            stop.set()
            await sampler
            for opened in (idle, never):
                if opened is not None:
                    opened.close()

        assert seconds < REVIEW_BOUND, f"the review took {seconds:.3f} s during the flood"
        assert response["uid"] == uid
        assert response["patchType"] == "JSONPatch"
        assert open_now <= DEFAULT_MAX_CONNECTIONS
        assert evicted >= IDLE_TLS + NEVER_TLS - DEFAULT_MAX_CONNECTIONS
        budget = DEFAULT_MAX_CONNECTIONS * CONNECTION_KIB / 1024
        assert peak[0] - baseline < budget, (baseline, peak[0], budget)

        deadline = time.monotonic() + RETURN_DEADLINE
        while process.rss_mib() > baseline + NEAR_BASELINE_MIB:
            assert time.monotonic() < deadline, (
                f"RSS {process.rss_mib():.1f} MiB, baseline {baseline:.1f}, peak {peak[0]:.1f}"
            )
            await asyncio.sleep(0.5)
        seconds, response, uid = await _review(process)
        assert response["uid"] == uid
