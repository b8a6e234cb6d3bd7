"""`webhook.server.protocols` relies on three details of CPython's asyncio TLS protocol; pin them
so that a Python upgrade that changes them fails here, with a reason, not as a memory regression.
"""

from __future__ import annotations

import asyncio
import ssl

from webhook.server.budget import ConnectionBudget
from webhook.server.protocols import TLS_INPUT_HIGH_WATER, TLS_READ_BUFFER, TLSConnection


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
    assert conn._incoming_high_water == TLS_INPUT_HIGH_WATER  # type: ignore[attr-defined]
    # Reading pauses only above this: a record that has not fully arrived (at most 2^14 bytes,
    # 256 of expansion and a 5-byte header) must never reach it, or it would wait for ever.
    assert TLS_INPUT_HIGH_WATER > 2**14 + 256 + 5
