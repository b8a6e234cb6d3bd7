"""The listeners' plumbing: aiohttp sites over budgeted connections, and memory handed back.

aiohttp's ``TCPSite`` hands ``ssl=`` to asyncio, whose TLS protocol costs 256 KiB per connection
before the handshake; `BudgetSite` listens without it and lets a factory of
`webhook.server.protocols` speak TLS or plain HTTP on each connection. After a flood of
connections closes, glibc keeps the freed pages: `trim_after_closes` hands them back.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
from collections.abc import Callable
from typing import Any, Final

from aiohttp import web

from webhook.server.budget import ConnectionBudget

TRIM_CHECK_SECONDS: Final = 5.0
"""How often `trim_after_closes` looks at how many connections closed."""
TRIM_AFTER_CLOSED: Final = 256
"""Connections closed since the last check that make it hand freed memory back to the system."""


class BudgetSite(web.BaseSite):
    """An aiohttp site that listens without ``ssl=``; ``factory`` (``TLSListener.factory`` or
    `plain_factory` of `webhook.server.protocols`) speaks TLS or plain HTTP."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        factory: Callable[[], asyncio.BaseProtocol],
        *,
        scheme: str,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._factory = factory
        self._scheme = scheme

    @property
    def port(self) -> int:
        """The bound port once started (the requested one before)."""
        return self._port

    @property
    def name(self) -> str:
        return f"{self._scheme}://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = server = await loop.create_server(
            self._factory, self._host, self._port, backlog=self._backlog
        )
        if server.sockets:
            self._port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting; every connection accepted so far is connected to its protocol.

        asyncio accepts a burst of sockets in one callback and creates their transports in tasks
        run later; closing the server before those run would drop sockets already accepted
        (asyncio refuses to attach a transport to a closed server). So the socket stops being
        read first, the pending transports are created, and only then does the server close.
        """
        server: Any = self._server
        if server is not None:
            loop = asyncio.get_running_loop()
            for sock in server.sockets:
                loop.remove_reader(sock.fileno())
            await asyncio.sleep(0)  # the accepted sockets' transports are created
        await super().stop()
        await asyncio.sleep(0)  # ... and their protocols' connection_made has run


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    trim: Callable[[int], int] | None = getattr(ctypes.CDLL(None), "malloc_trim", None)
    return trim


def release_freed_memory() -> bool:
    """Hand the C heap's free pages back to the system (glibc ``malloc_trim``); False without.

    glibc keeps memory freed in the middle of its heap; after a flood of connections closes,
    the process would stay at its peak size although nothing uses those pages any more.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


async def trim_after_closes(
    budgets: list[ConnectionBudget], interval: float = TRIM_CHECK_SECONDS
) -> None:
    """Every ``interval`` s: when `TRIM_AFTER_CLOSED` connections closed, `release_freed_memory`."""
    while True:
        await asyncio.sleep(interval)
        if sum(budget.closed_since_check() for budget in budgets) >= TRIM_AFTER_CLOSED:
            release_freed_memory()
