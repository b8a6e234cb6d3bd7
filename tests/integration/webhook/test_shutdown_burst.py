"""Issue 27: SIGTERM during a burst of new connections answers every request that was written.

32 client threads each open a new HTTPS connection per AdmissionReview (the kube-apiserver with a
cold pool) against a real `vsi-webhook serve` process, and SIGTERM arrives in the middle of the
burst. A connection whose TLS handshake completed was accepted by the server: its request must be
read and answered with a 200 (with ``Connection: close`` once the shutdown began), and the process
must exit within its grace period. (A connection still in the kernel's accept queue when the
listener closes is reset before its handshake: it was never accepted, and nothing was written.)
Several short rounds, each a new process, make the race likely: on the code before the fix,
connections whose request was on the wire were closed unanswered.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import ssl
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.webhook.helpers import client_context, wait_for
from tests.integration.webhook.process import DEV_SNI, EXIT_DEADLINE, webhook_process

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
CLIENTS = 32
"""Threads, each with one new HTTPS connection per review (the issue's load)."""
ROUNDS = 3
"""New processes per test run, each stopped by SIGTERM in the middle of a burst."""
ANSWERED_BEFORE_SIGTERM = 2 * CLIENTS
"""Answers received before SIGTERM is sent: every client is well into its loop by then."""
GRACE = 8.0
"""The default --shutdown-timeout, given explicitly: the process must exit within it (+1 s)."""
SOCKET_DEADLINE = GRACE + 5.0
"""No client socket operation waits longer: the server exits within its grace period anyway."""
BURST_DEADLINE = 30.0
"""Bound on reaching `ANSWERED_BEFORE_SIGTERM` answers and on the clients finishing."""


@dataclass
class Tally:
    """What the clients saw, shared by the threads (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    closing: int = 0
    """Answers that carried ``Connection: close`` (the ones sent during the shutdown)."""
    dropped: list[str] = field(default_factory=list)
    """Requests written and never answered, and clients that failed: why, for each."""
    refused: int = 0
    """Connections refused or reset before their TLS handshake completed."""


def _request(template: bytes) -> tuple[bytes, str]:
    review = json.loads(template)
    review["request"]["uid"] = uid = str(uuid.uuid4())
    body = json.dumps(review).encode()
    head = (
        "POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body, uid


def _read_answer(tls: ssl.SSLSocket) -> tuple[int, bool, bytes]:
    """(status, Connection: close?, body) of one HTTP/1.1 response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} bytes of the answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = tls.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {len(body)} of {length} body bytes")
        body += chunk
    return int(lines[0].split(" ", 2)[1]), headers.get("connection") == "close", body


def _client(port: int, context: ssl.SSLContext, template: bytes, tally: Tally) -> None:
    """`_reviews` in a thread: anything unexpected it raises is a failure of the round."""
    try:
        _reviews(port, context, template, tally)
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        with tally.lock:
            tally.dropped.append(f"a client failed at line {where.lineno}: {exc!r}")


def _reviews(port: int, context: ssl.SSLContext, template: bytes, tally: Tally) -> None:
    """One new connection per review until the listener refuses connections."""
    while True:
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_DEADLINE)
        except ConnectionError:  # refused, or reset by a listener closing under the SYN
            return  # the shutdown began
        request, uid = _request(template)
        with raw:
            try:
                tls = context.wrap_socket(raw, server_hostname=DEV_SNI)
            except OSError:  # still in the accept queue when the listener closed: reset
                with tally.lock:
                    tally.refused += 1
                continue
            try:
                # The handshake completed: the server accepted this connection, and owes it
                # an answer from here on.
                tls.sendall(request)
                status, closing, body = _read_answer(tls)
            except OSError as exc:
                with tally.lock:
                    tally.dropped.append(f"{uid}: {type(exc).__name__}: {exc}")
                continue
            finally:
                tls.close()
        with tally.lock:
            tally.answered += 1
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            tally.closing += closing
            if status == 200 and json.loads(body)["response"]["uid"] != uid:
                tally.dropped.append(f"{uid}: answered with another uid")


async def _round(template: bytes) -> tuple[Tally, float, int | None]:
    """One process, one burst, one SIGTERM: the tally, seconds to exit, the exit code."""
    async with webhook_process("--shutdown-timeout", str(GRACE)) as process:
        tally = Tally()
        context = client_context(process.dev_ca)
        threads = [
            threading.Thread(target=_client, args=(process.port, context, template, tally))
            for _ in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        try:

            async def burst_under_way() -> bool:
                return tally.answered >= ANSWERED_BEFORE_SIGTERM

            await wait_for(burst_under_way, timeout=BURST_DEADLINE, what="the burst", step=0.005)
            process.proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            try:
                code: int | None = await asyncio.wait_for(process.proc.wait(), EXIT_DEADLINE)
            except TimeoutError:
                code = None
            exited = time.monotonic() - signalled
        finally:
            for thread in threads:
                await asyncio.to_thread(thread.join, BURST_DEADLINE)
        assert not any(thread.is_alive() for thread in threads), "a client did not finish"
    return tally, exited, code


@pytest.mark.timeout(180)
async def test_sigterm_during_a_burst_of_new_connections_answers_every_written_request() -> None:
    template = (GOLDEN / "portworx-daemonset" / "request.json").read_bytes()
    for number in range(ROUNDS):
        tally, exited, code = await _round(template)
        where = f"round {number + 1} of {ROUNDS}"
        assert tally.dropped == [], f"{where}: {len(tally.dropped)} requests not answered"
        assert tally.statuses.keys() == {200}, f"{where}: {tally.statuses}, {tally.closing} closing"
        assert code == 0, f"{where}: exit code {code} after {exited:.1f} s"
        assert exited < GRACE + 1, f"{where}: exited {exited:.1f} s after SIGTERM"
