"""`webhook.server.budget` relies on three details of CPython's asyncio TLS protocol; pin them
so that a Python upgrade that changes them fails here, with a reason, not as a memory regression.
"""

from __future__ import annotations

import asyncio
import ssl

from webhook.server.budget import (
    TLS_INPUT_HIGH_WATER,
    TLS_READ_BUFFER,
    ConnectionBudget,
    Slot,
    TLSConnection,
)


async def test_tls_connections_read_into_the_listeners_one_buffer() -> None:
    budget = ConnectionBudget(4)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    connections = [
        TLSConnection(budget, Slot(asyncio.Transport()), asyncio.Protocol(), context, 5.0)
        for _ in range(2)
    ]
    for conn in connections:
        # asyncio's selector transport asks for a buffer with -1 and reads into what it gets.
        buffer = conn.get_buffer(-1)
        assert buffer.obj is budget.read_buffer.obj
        assert len(buffer) == TLS_READ_BUFFER


async def test_a_paused_tls_connection_holds_little_input_but_always_a_whole_record() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    conn = TLSConnection(
        ConnectionBudget(1), Slot(asyncio.Transport()), asyncio.Protocol(), context, 5.0
    )
    assert conn._incoming_high_water == TLS_INPUT_HIGH_WATER  # type: ignore[attr-defined]
    # Reading pauses only above this: a record that has not fully arrived (at most 2^14 bytes,
    # 256 of expansion and a 5-byte header) must never reach it, or it would wait for ever.
    assert TLS_INPUT_HIGH_WATER > 2**14 + 256 + 5


def test_at_the_cap_the_least_recently_active_connection_is_closed() -> None:
    closed: list[int] = []

    class Transport(asyncio.Transport):
        def __init__(self, number: int) -> None:
            super().__init__()
            self.number = number

        def abort(self) -> None:
            closed.append(self.number)

    evicted: list[bool] = []
    budget = ConnectionBudget(3, on_evicted=lambda: evicted.append(True))
    slots = [budget.admit(Transport(n)) for n in range(3)]
    budget.touch(slots[0])  # 0 spoke last: 1 is now the longest silent
    budget.admit(Transport(3))
    budget.admit(Transport(4))
    assert closed == [1, 2]
    assert evicted == [True, True]
    assert budget.open == 3
    budget.release(slots[1])  # its close arrives after the eviction: nothing more to do
    assert budget.open == 3
    assert budget.closed_since_check() == 0
    budget.release(slots[0])
    assert budget.closed_since_check() == 1
