"""`webhook.server.budget`: the cap that closes the longest-silent connection, and which
connections the shutdown closes as quiet (idle and silent long enough) and which it keeps."""

from __future__ import annotations

import asyncio

import pytest

from webhook.server.budget import ConnectionBudget, Slot, close_when_quiet


class Transport(asyncio.Transport):
    """A socket transport that only records how it was closed."""

    def __init__(self, number: int = 0) -> None:
        super().__init__()
        self.number = number
        self.closed = False
        self.aborted = False

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted


def test_at_the_cap_the_least_recently_active_connection_is_closed() -> None:
    closed: list[int] = []

    class Numbered(Transport):
        def abort(self) -> None:
            closed.append(self.number)

    evicted: list[bool] = []
    budget = ConnectionBudget(3, on_evicted=lambda: evicted.append(True))
    slots = [budget.admit(Numbered(n)) for n in range(3)]
    budget.touch(slots[0])  # 0 spoke last: 1 is now the longest silent
    budget.admit(Numbered(3))
    budget.admit(Numbered(4))
    assert closed == [1, 2]
    assert evicted == [True, True]
    assert budget.open == 3
    budget.release(slots[1])  # its close arrives after the eviction: nothing more to do
    assert budget.open == 3
    assert budget.closed_since_check() == 0
    budget.release(slots[0])
    assert budget.closed_since_check() == 1


def test_a_finished_request_makes_its_connection_the_most_recently_active() -> None:
    budget = ConnectionBudget(2)
    first, second = budget.admit(Transport(0)), budget.admit(Transport(1))
    first.request_started()
    first.request_done()
    assert budget.slots() == [second, first]


def test_the_http_protocol_of_a_connection_finds_its_slot_until_it_closes() -> None:
    index: dict[object, Slot] = {}
    budget = ConnectionBudget(2, index=index)
    slot = budget.admit(Transport())
    http = object()
    budget.attach(slot, http)
    assert index[http] is slot
    budget.release(slot)
    assert index == {}


def _silent(slot: Slot, seconds: float) -> None:
    slot.active -= seconds


def test_only_connections_idle_and_silent_for_the_quiet_time_are_closed() -> None:
    budget = ConnectionBudget(8)
    quiet, fresh, busy = (budget.admit(Transport(n)) for n in range(3))
    _silent(quiet, 3.0)
    _silent(busy, 3.0)
    busy.request_started()
    _silent(fresh, 0.5)

    soonest = budget.close_quiet(2.0)

    transports = [slot.transport for slot in (quiet, fresh, busy)]
    assert [t.is_closing() for t in transports] == [True, False, False]
    # fresh becomes quiet 1.5 s from now; busy is looked at again when its request is done.
    assert soonest is not None
    assert soonest == pytest.approx(fresh.active + 2.0)


def test_no_open_connection_means_nothing_to_wait_for() -> None:
    budget = ConnectionBudget(2)
    slot = budget.admit(Transport())
    budget.release(slot)
    assert budget.close_quiet(2.0) is None


async def test_the_shutdown_waits_for_the_last_request_then_closes_it_once_quiet() -> None:
    budget = ConnectionBudget(4)
    slot = budget.admit(Transport())
    slot.request_started()
    transport = slot.transport
    assert isinstance(transport, Transport)

    async def answer_then_close() -> None:
        slot.request_done()
        await asyncio.sleep(0)
        assert not transport.is_closing()  # just answered: not quiet yet
        budget.release(slot)

    loop = asyncio.get_running_loop()
    loop.call_soon(lambda: loop.create_task(answer_then_close()))
    assert await close_when_quiet([budget], grace=5.0, quiet=2.0) == 0


async def test_the_shutdown_counts_what_is_still_open_at_the_end_of_the_grace_period() -> None:
    budget = ConnectionBudget(4)
    busy = budget.admit(Transport())
    busy.request_started()  # a handler that never returns
    assert await close_when_quiet([budget], grace=0.05, quiet=2.0) == 1
    assert not busy.transport.is_closing()  # the caller aborts it
