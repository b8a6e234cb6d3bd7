"""`webhook.server.protocols` relies on three details of CPython's asyncio TLS protocol; pin them
so that a Python upgrade that changes them fails here, with a reason, not as a memory regression.
`webhook.server.tlscheck` finds the same at start-up, and the server then falls back
(tests/integration/webhook/test_tls_fallback.py).
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from certs.generate import generate
from webhook.server.budget import ConnectionBudget
from webhook.server.protocols import TLS_INPUT_HIGH_WATER, TLS_READ_BUFFER, TLSConnection
from webhook.server.tlscheck import lean_tls_problem

pytestmark = pytest.mark.asyncio_internals


def _connection(budget: ConnectionBudget, buffer: memoryview) -> TLSConnection:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    slot = budget.admit(asyncio.Transport())
    return TLSConnection(budget, slot, asyncio.Protocol(), context, 5.0, buffer)


async def test_tls_connections_read_into_the_listeners_one_buffer() -> None:
    budget = ConnectionBudget(4)
    shared = memoryview(bytearray(TLS_READ_BUFFER))
    for conn in [_connection(budget, shared) for _ in range(2)]:
        # asyncio's selector transport asks for a buffer with -1 and reads into what it gets.
        buffer = conn.get_buffer(-1)
        assert buffer.obj is shared.obj
        assert len(buffer) == TLS_READ_BUFFER


async def test_a_paused_tls_connection_holds_little_input_but_always_a_whole_record() -> None:
    conn = _connection(ConnectionBudget(1), memoryview(bytearray(TLS_READ_BUFFER)))
    assert conn._incoming_high_water == TLS_INPUT_HIGH_WATER
    # Reading pauses only above this: a record that has not fully arrived (at most 2^14 bytes,
    # 256 of expansion and a 5-byte header) must never reach it, or it would wait for ever.
    assert TLS_INPUT_HIGH_WATER > 2**14 + 256 + 5


@pytest.fixture
def server_context(tmp_path: Path) -> ssl.SSLContext:
    files = generate(tmp_path, "vault-storage-injector", "vsi-system").files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.tls_cert, files.tls_key)
    return context


async def test_the_start_up_check_finds_this_pythons_asyncio_as_the_lean_tls_needs_it(
    server_context: ssl.SSLContext,
) -> None:
    assert lean_tls_problem(server_context) is None


class ReadsIntoItsOwnBuffer(TLSConnection):
    """What asyncio would do if its read buffer had another name: the listener's goes unused."""

    def get_buffer(self, n: int) -> memoryview:
        return memoryview(bytearray(TLS_READ_BUFFER))


class LosesWhatItReads(TLSConnection):
    """What asyncio would do if it read TLS records from another buffer than the one it hands
    out: OpenSSL gets other bytes than the socket's."""

    def buffer_updated(self, nbytes: int) -> None:
        self.get_buffer(-1)[:nbytes] = bytes(nbytes)
        super().buffer_updated(nbytes)


class WithoutReadLimits(TLSConnection):
    """What a Python without ``SSLProtocol._set_read_buffer_limits`` looks like to the check."""

    _set_read_buffer_limits = None


@pytest.mark.parametrize(
    ("protocol", "reason"),
    [
        (ReadsIntoItsOwnBuffer, "does not read into the buffer it is given"),
        (LosesWhatItReads, "did not complete"),
        (WithoutReadLimits, "TypeError"),
    ],
)
async def test_the_start_up_check_names_internals_that_differ(
    server_context: ssl.SSLContext, protocol: type[TLSConnection], reason: str
) -> None:
    problem = lean_tls_problem(server_context, protocol)
    assert problem is not None
    assert reason in problem
