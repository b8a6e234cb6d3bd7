"""List-then-watch loops against the Kubernetes API, for caches that must never freeze.

A watch ends (the server's ``timeoutSeconds``, a dropped connection, ``410 Gone`` once its
resourceVersion is compacted); a cache that stops following it serves stale answers for ever. So
`ListWatch.follow` lists, watches from the list's resourceVersion, lists again after 410, and
retries anything else with capped backoff, logging once per failing streak. Only 403 reaches the
caller, which decides what an unreadable resource means.

Lists come in pages (`ListWatch.list_pages`: ``limit`` and ``continue``), so that 50 000 Secrets
never arrive as one response held in memory at once; a continue token the apiserver no longer
knows (410 Expired, its snapshot compacted away mid-list) makes `follow` list again from the start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from vsi_common import kube
from vsi_common.logs import fields

LOG = logging.getLogger(__name__)

WATCH_TIMEOUT_SECONDS: Final = 300
"""Least server-side ``timeoutSeconds`` of one watch; then re-opened from the last
resourceVersion. Each watch asks for a random time between this and twice this (as client-go's
reflector does), so the hundreds of Secret watches opened together come back one by one, not as
one burst every five minutes."""
LIST_PAGE_SIZE: Final = 500
"""Objects per list request (``limit``), as kubectl pages: a page of Secrets is a few MB at most."""
LIST_CONCURRENCY: Final = 4
"""List pages in flight at once per cache (one per opted-in namespace would be 100 pages of
Secrets parsed side by side when the namespaces are listed): parsing is on one thread anyway."""
LIST_TIMEOUT: Final = aiohttp.ClientTimeout(total=60, sock_connect=10)
"""Limit of one list request (one page)."""

PageHandler = Callable[[list[Mapping[str, Any]]], None]
"""Called with the items of each page of a list, in order."""


@dataclass(frozen=True)
class Backoff:
    """Delays between reconnection attempts, in seconds."""

    initial: float = 0.5
    """First delay after an error."""
    maximum: float = 30.0
    """Cap of the doubling delay."""
    forbidden: float = 300.0
    """Delay before trying again a namespace whose Secrets were forbidden (RBAC may be granted)."""

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * 2, self.maximum)


EventHandler = Callable[[str, Mapping[str, Any]], None]
"""Called with the event type (ADDED, MODIFIED, DELETED) and the object."""


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Newline-separated watch events, of any length (a Secret may be up to 1 MiB)."""
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer


class ListWatch:
    """List and watch calls against one API server, with one backoff policy."""

    def __init__(
        self,
        host: str,
        backoff: Backoff,
        watch_timeout_seconds: int = WATCH_TIMEOUT_SECONDS,
        page_size: int = LIST_PAGE_SIZE,
    ) -> None:
        self._host = host
        self.backoff = backoff
        self._watch_timeout = watch_timeout_seconds
        self._page_size = page_size
        self._pages = asyncio.Semaphore(LIST_CONCURRENCY)

    async def list(self, request: Awaitable[Any], target: kube.Target) -> dict[str, Any]:
        body = await kube.call_json(request, target, host=self._host)
        assert body is not None  # missing_ok is False: a 404 raised
        return body

    async def list_pages(
        self, call: Callable[..., Awaitable[Any]], target: kube.Target, page: PageHandler
    ) -> str:
        """List page by page, handing each page's items to ``page``; the list's resourceVersion.

        Every page of one list comes from the same snapshot, at the first page's version. An
        expired continue token raises `kube.Gone`: list again from the start.
        """
        token: str | None = None
        version = ""
        while True:
            options: dict[str, Any] = {"limit": self._page_size}
            if token:
                options["_continue"] = token
            async with self._pages:
                body = await self.list(
                    call(_preload_content=False, _request_timeout=LIST_TIMEOUT, **options), target
                )
                page(body.get("items") or [])
            meta = body.get("metadata") or {}
            version = version or str(meta.get("resourceVersion", ""))
            token = meta.get("continue") or None
            if token is None:
                return version

    async def _watch(
        self,
        open_watch: Callable[..., Awaitable[Any]],
        resource_version: str,
        handle: EventHandler,
        target: kube.Target,
    ) -> tuple[str, int]:
        """Follow one watch from ``resource_version``; return the last resourceVersion seen and
        how many events arrived, when the server ends the stream."""
        # Jitter, not a secret: spreads the watches' ends over time.
        timeout = self._watch_timeout + random.randrange(max(self._watch_timeout, 1))  # noqa: S311
        request = open_watch(
            watch=True,
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout,
            _preload_content=False,
            _request_timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=10, sock_read=timeout + 30
            ),
        )
        response = await kube.open_stream(request, target, host=self._host)
        events = 0
        try:
            async for line in _lines(response):
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    raise kube.status_error(int(obj.get("code") or 500), obj, target, self._host)
                version = obj.get("metadata", {}).get("resourceVersion")
                if version:
                    resource_version = str(version)
                if kind in {"ADDED", "MODIFIED", "DELETED"}:
                    handle(kind, obj)
                    events += 1
        finally:
            response.close()
        return resource_version, events

    async def follow(
        self,
        list_once: Callable[[], Awaitable[str]],
        open_watch: Callable[..., Awaitable[Any]],
        handle: EventHandler,
        target: kube.Target,
    ) -> None:
        """List, then watch from the list's resourceVersion for ever; list again after 410 Gone.

        Errors other than 403 are logged once per failing streak and retried with backoff; 403
        propagates to the caller."""
        delays = self.backoff.delays()
        failing = False
        while True:
            try:
                version = await list_once()
                if failing:
                    LOG.info("watch reconnected", extra=fields(watch=target.describe()))
                    failing = False
                delays = self.backoff.delays()
                while True:
                    version, events = await self._watch(open_watch, version, handle, target)
                    if not events:  # a server that ends watches at once must not make us spin
                        await asyncio.sleep(self.backoff.initial)
            except kube.Gone:
                LOG.info(
                    "resourceVersion or continue token expired (410 Gone); listing again",
                    extra=fields(watch=target.describe()),
                )
            except kube.Forbidden:
                raise
            except Exception as exc:  # anything else (network, bad JSON): a dead task would freeze
                # the caches, so log once per failing streak and keep trying.
                if not failing:
                    LOG.warning(
                        "watch failed, retrying with backoff",
                        extra=fields(watch=target.describe(), error=kube.first_line(exc)),
                    )
                    failing = True
                await asyncio.sleep(next(delays))
