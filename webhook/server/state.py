"""What the server's views and resources share: settings, metrics, reloaders, caches, draining.

One `WebhookState` per application, stored under `STATE`; `webhook.server.app` builds it,
`webhook.server.views` reads it, `webhook.server.running` drains it on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

from webhook.core.model import ClusterView
from webhook.server.budget import Slot
from webhook.server.configreload import ConfigReloader
from webhook.server.metrics import WebhookMetrics
from webhook.server.settings import ServeSettings
from webhook.server.tlsreload import CertReloader


class ClusterCaches(ClusterView, Protocol):
    """The watch-fed caches the admission path reads (`webhook.server.caches.KubeCaches`)."""

    async def start(self) -> None:
        """Start the watches (returns before they are synced)."""

    def is_synced(self) -> bool:
        """True once every watched list has been received."""

    async def close(self) -> None:
        """Stop the watches."""

    def set_secret_names(self, names: frozenset[str]) -> None:
        """Follow the Secrets a reloaded profiles file references."""


class BodyBudget:
    """Bytes of request bodies being read at once, at most ``limit``.

    The connection cap bounds what idle connections cost, not 512 connections each sending a
    3 MiB body at once: a body that has not fully arrived with its headers first takes its
    declared length (or the largest body) from here, and waits while there is no room.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        """Bytes taken by the bodies being read now."""
        self._room: asyncio.Event | None = None

    def try_take(self, size: int) -> bool:
        """Take ``size`` bytes if they fit now."""
        if self.in_use + size > self.limit:
            return False
        self.in_use += size
        return True

    async def take(self, size: int) -> None:
        """Take ``size`` bytes, waiting until other bodies give back enough."""
        while not self.try_take(size):
            if self._room is None:
                self._room = asyncio.Event()
            await self._room.wait()

    def give_back(self, size: int) -> None:
        """A body was read (or refused): its bytes are free again."""
        self.in_use -= size
        if self._room is not None:
            self._room.set()
            self._room = None


ClusterConnector = Callable[[ServeSettings, frozenset[str]], Awaitable[ClusterCaches | None]]
"""Start the caches for the given Secret names; None serves without them."""


@dataclass
class WebhookState:
    """What the views share: settings, metrics and the reloadable resources."""

    settings: ServeSettings
    metrics: WebhookMetrics
    config: ConfigReloader
    tls: CertReloader
    bodies: BodyBudget
    """Room for request bodies still arriving (`ServeSettings.max_body_bytes_in_flight`)."""
    cluster: ClusterCaches | None = None
    cluster_started: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    in_flight: int = 0
    """Reviews whose handler has started (headers read) and not yet answered."""
    shutting_down: bool = False
    """Set on SIGTERM: answers close their connection, /readyz fails."""
    connections: dict[object, Slot] = field(default_factory=dict)
    """The counted connection of each HTTP protocol (``request.protocol``), on every listener:
    the views mark the requests in progress on it (`webhook.server.budget`)."""
    _drained: asyncio.Event | None = None

    def begin_shutdown(self) -> None:
        """From now on, answers carry ``Connection: close`` and /readyz says unready."""
        self.shutting_down = True
        self._drained = asyncio.Event()
        if self.in_flight == 0:
            self._drained.set()

    def request_done(self) -> None:
        """A /mutate handler finished; wakes `drain` when it was the last one."""
        self.in_flight -= 1
        if self._drained is not None and self.in_flight == 0:
            self._drained.set()

    async def drain(self, grace: float) -> int:
        """Wait up to ``grace`` s for in-flight reviews to finish; how many are left."""
        if self._drained is None:
            self.begin_shutdown()
        assert self._drained is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._drained.wait()
        return self.in_flight


STATE = web.AppKey("state", WebhookState)
"""The application's `WebhookState`."""
