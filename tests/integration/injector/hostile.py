"""A misbehaving HTTP server to put between the injector and Vault, and a recorder for elsewhere.

`Double` is an aiohttp server on loopback (HTTP or HTTPS) in a thread of its own. It forwards every
request to the real OpenBao unless a `Rule` matches, and a rule answers the way a proxy, a load
balancer or a captive portal might: HTML with 200, JSON cut short, 204, a redirect to another
origin, a 404 page, 429 with Retry-After, a page echoing the request. It records everything it
receives. Started without an upstream it answers every request with a believable Vault success
(a key, a token), so a `Double` used as the "other origin" proves, by recording nothing, that the
injector sent it nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

FAKE_KEY = "T3RoZXJPcmlnaW5LZXlNYXRlcmlhbDAxMjM0NTY3ODk="
"""The 32-byte key the other origin would hand out (base64): it must never reach a file."""
FAKE_TOKEN = "hvs.OtherOriginTokenAAAAAAAAAAAA"
"""The token the other origin would hand out at login."""


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass(frozen=True)
class Upstream:
    """What the real Vault answered to a forwarded request."""

    status: int
    content_type: str
    body: bytes

    def json(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads(self.body)
        return loaded


Forward = Callable[[], Awaitable[Upstream]]
Responder = Callable[[web.Request, bytes, Forward], Awaitable[web.StreamResponse]]


@dataclass
class Rule:
    """Answer requests matching ``method`` and ``path`` (a regex on the path) with ``respond``."""

    method: str
    path: str
    respond: Responder
    skip: int = 0
    """Let this many matching requests through first."""
    times: int | None = None
    """Answer this many matching requests, then let the rest through (None: all)."""
    matched: int = field(default=0)


class Double:
    """The misbehaving server; ``url`` is its origin, ``seen`` what it received."""

    def __init__(self, upstream: str | None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.upstream = upstream
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        self._ssl = ssl_context
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the HTTP double did not start")

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl else 'http'}://127.0.0.1:{self.port}"

    def on(
        self, method: str, path: str, respond: Responder, skip: int = 0, times: int | None = None
    ) -> None:
        """Add a rule (the first matching rule answers)."""
        self.rules.append(Rule(method, path, respond, skip, times))

    def requests(self, method: str | None = None) -> list[Seen]:
        return [s for s in self.seen if method is None or s.method == method]

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self._ssl)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # a TCP server
        async with aiohttp.ClientSession(auto_decompress=False) as client:
            self._client = client
            self._ready.set()
            await self._stop.wait()
        await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(
            Seen(request.method, request.path, dict(request.headers), body, time.time())
        )

        async def forward() -> Upstream:
            assert self.upstream is not None, "no upstream to forward to"
            headers = {
                k: v
                for k, v in request.headers.items()
                if k.lower().startswith("x-vault-") or k.lower() == "content-type"
            }
            async with self._client.request(
                request.method, self.upstream + request.path_qs, headers=headers, data=body or None
            ) as answer:
                return Upstream(
                    answer.status, answer.headers.get("Content-Type", ""), await answer.read()
                )

        for rule in self.rules:
            if rule.method != request.method or not re.search(rule.path, request.path):
                continue
            rule.matched += 1
            if rule.matched <= rule.skip:
                break
            if rule.times is not None and rule.matched > rule.skip + rule.times:
                break
            return await rule.respond(request, body, forward)
        if self.upstream is None:
            return believable(request)
        up = await forward()
        response = web.Response(status=up.status, body=up.body)
        if up.content_type:
            response.headers["Content-Type"] = up.content_type
        return response


def believable(request: web.Request) -> web.Response:
    """What a server posing as Vault would answer: a token to a login, a key to anything else."""
    if "/login" in request.path:
        return web.json_response({"auth": {"client_token": FAKE_TOKEN, "policies": ["x"]}})
    if request.method == "POST":
        return web.json_response({"data": {"version": 1}})
    meta = {"version": 1, "deletion_time": "", "destroyed": False, "created_time": "t"}
    return web.json_response({"data": {"data": {"key": FAKE_KEY}, "metadata": meta}})


# -- responders ---------------------------------------------------------------------------------


def raw(status: int, body: bytes, content_type: str | None, **headers: str) -> Responder:
    async def respond(request: web.Request, seen: bytes, forward: Forward) -> web.StreamResponse:
        response = web.Response(status=status, body=body, headers=headers)
        if content_type is not None:
            response.headers["Content-Type"] = content_type
        else:
            response.headers.pop("Content-Type", None)
        return response

    return respond


def as_json(status: int, obj: object, **headers: str) -> Responder:
    return raw(status, json.dumps(obj).encode(), "application/json", **headers)


def html(status: int) -> Responder:
    page = b"<html><head><title>Sign in</title></head><body>Welcome to the network</body></html>"
    return raw(status, page, "text/html; charset=utf-8")


def redirect(status: int, location: str) -> Responder:
    return raw(status, b"", None, Location=location)


def echo(status: int, as_vault_json: bool) -> Responder:
    """An error page that puts the request's headers and body back in the answer."""

    async def respond(request: web.Request, seen: bytes, forward: Forward) -> web.StreamResponse:
        head = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
        text = f"{request.method} {request.path}\n{head}\n\n{seen.decode(errors='replace')}"
        if as_vault_json:
            return web.json_response(
                {"errors": [text, seen.decode(errors="replace")]}, status=status
            )
        return web.Response(status=status, text=f"<pre>{text}</pre>", content_type="text/html")

    return respond


def huge(status: int, size: int, chunked: bool) -> Responder:
    """A JSON answer of ``size`` bytes, sent with Content-Length or chunked without one."""

    async def respond(request: web.Request, seen: bytes, forward: Forward) -> web.StreamResponse:
        filler = b'{"data": {"data": {"pad": "' + b"x" * size + b'"}}}'
        if not chunked:
            return web.Response(status=status, body=filler, content_type="application/json")
        response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for start in range(0, len(filler), 65536):
                await response.write(filler[start : start + 65536])
        except (ConnectionError, RuntimeError):
            pass  # the injector stops reading and drops the connection
        return response

    return respond


def altered(change: Callable[[dict[str, object]], None]) -> Responder:
    """Forward to the real Vault, then change its JSON answer (a lying proxy)."""

    async def respond(request: web.Request, seen: bytes, forward: Forward) -> web.StreamResponse:
        up = await forward()
        body = up.json()
        change(body)
        return web.json_response(body, status=up.status)

    return respond


def passthrough() -> Responder:
    async def respond(request: web.Request, seen: bytes, forward: Forward) -> web.StreamResponse:
        up = await forward()
        return web.Response(status=up.status, body=up.body, content_type="application/json")

    return respond
