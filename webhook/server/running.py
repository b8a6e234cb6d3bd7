"""The running server: listeners started, SIGTERM handled, open connections answered.

The I/O shell around `webhook.server.app.create_app`: ``--dev`` makes throw-away certificates, the
listeners start (HTTPS, and plain-HTTP metrics), and SIGTERM or SIGINT stop accepting connections,
answer every request on a connection already accepted within the shutdown timeout, then return.
`start` is shared with the tests and the benchmark so they run exactly this listener set-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp import web

from vsi_common.cli import package_version
from vsi_common.logs import fields
from webhook.errors import UsageError, WebhookError
from webhook.server.app import create_app, create_metrics_app
from webhook.server.budget import ConnectionBudget, close_when_quiet
from webhook.server.httplog import HttpServerLog
from webhook.server.listeners import BudgetSite, trim_after_closes
from webhook.server.protocols import TLSConnection, TLSListener, TLSProtocol, plain_factory
from webhook.server.settings import ServeSettings
from webhook.server.state import STATE, WebhookState
from webhook.server.tlscheck import lean_tls_problem

log = logging.getLogger(__name__)

LINGER_SECONDS = 2.0
"""How long unread request bytes are drained after an early answer (413, 408) before closing."""
FINAL_SHUTDOWN_SECONDS = 1.0
"""How long aiohttp's own shutdown may wait for a handler once the grace period is over (a bound
only: by then every connection is closed, and aiohttp waits for none)."""
HTTP_READ_BUFFER = 16 * 1024
"""aiohttp's read size for request bodies: a body still arriving holds at most twice this before
its connection stops being read (aiohttp's own: 64 KiB, on each of up to 512 connections)."""
METRICS_MAX_CONNECTIONS = 64
"""Concurrent connections of the plain-HTTP metrics listener (a scraper needs one)."""
DEV_SANS = ("localhost", "127.0.0.1")
"""Extra names in the ``--dev`` certificate so curl on this machine can verify it."""


@dataclass
class Running:
    """Listeners started by `start`; `stop` closes them gracefully."""

    runner: web.AppRunner
    metrics_runner: web.AppRunner | None
    port: int
    metrics_port: int | None

    state: WebhookState
    grace: float
    budgets: list[ConnectionBudget] = field(default_factory=list)
    """The connection budget of each listener (HTTPS first)."""
    trimmer: asyncio.Task[None] | None = None
    stopped: bool = False
    """Set by the first `stop`; a second does nothing."""

    async def stop(self) -> None:
        """Stop accepting; answer what the open connections send (up to ``grace`` s); release all.

        aiohttp's own shutdown closes every connection that is not handling a request, also one
        whose first request is on the wire, and stops reading from the others, which would strand
        a review whose body is still arriving. So the listeners close first, and each connection
        already accepted stays readable until it is answered (with ``Connection: close``) or has
        been silent for `webhook.server.budget.SHUTDOWN_QUIET_SECONDS`.
        """
        if self.stopped:
            return
        self.stopped = True
        loop = asyncio.get_running_loop()
        until = loop.time() + self.grace
        self.state.begin_shutdown()
        for runner in (self.runner, self.metrics_runner):
            for site in list(runner.sites if runner is not None else ()):
                await site.stop()
        left = await close_when_quiet(self.budgets, self.grace)
        unanswered = await self.state.drain(max(until - loop.time(), 0.0))
        if left or unanswered:
            log.warning(
                "shutdown grace period over: closing the connections still open",
                extra=fields(connections=left, unanswered=unanswered),
            )
        if self.trimmer is not None:
            self.trimmer.cancel()
        for budget in self.budgets:
            budget.abort_all()
        if self.metrics_runner is not None:
            await self.metrics_runner.cleanup()
        await self.runner.cleanup()


def _budget(state: WebhookState, listener: str, limit: int) -> ConnectionBudget:
    metrics = state.metrics
    budget = ConnectionBudget(
        limit,
        on_evicted=metrics.connections_refused.labels(listener, "evicted").inc,
        on_handshake_timeout=metrics.connections_refused.labels(listener, "handshake-timeout").inc,
        index=state.connections,
    )
    metrics.connections.labels(listener).set_function(lambda: budget.open)
    return budget


async def start(
    app: web.Application, settings: ServeSettings, *, tls_protocol: TLSProtocol = TLSConnection
) -> Running:
    """Start ``app`` (its resources, then the HTTPS listener) and the metrics listener if enabled.

    The HTTPS listener speaks ``tls_protocol`` when `lean_tls_problem` finds nothing wrong with
    it on this Python, else asyncio's standard TLS transport. Raises `WebhookError` with one line
    when a port cannot be bound or a resource cannot load.
    """
    state = app[STATE]
    runner = web.AppRunner(
        app,
        access_log=None,
        auto_decompress=False,
        read_bufsize=HTTP_READ_BUFFER,
        logger=HttpServerLog(state.metrics.bad_request),
        keepalive_timeout=settings.idle_timeout,
        lingering_time=LINGER_SECONDS,
        shutdown_timeout=FINAL_SHUTDOWN_SECONDS,
    )
    metrics_runner: web.AppRunner | None = None
    budgets = [_budget(state, "https", settings.max_connections)]
    try:
        await runner.setup()
        assert runner.server is not None
        context = state.tls.server_context
        listener = TLSListener(
            budgets[0],
            runner.server,
            context,
            settings.tls_handshake_timeout,
            _lean_tls(state, context, tls_protocol),
        )
        site = BudgetSite(runner, settings.host, settings.port, listener.factory(), scheme="https")
        await _bind(site, settings.host, settings.port)
        metrics_port: int | None = None
        if settings.metrics_port:
            metrics_runner = web.AppRunner(
                create_metrics_app(state),
                access_log=None,
                auto_decompress=False,
                logger=HttpServerLog(state.metrics.bad_request),
                keepalive_timeout=settings.idle_timeout,
            )
            budgets.append(_budget(state, "metrics", METRICS_MAX_CONNECTIONS))
            metrics_port = await _start_metrics(metrics_runner, budgets[1], settings)
    except BaseException:
        if metrics_runner is not None:
            await metrics_runner.cleanup()
        await runner.cleanup()
        raise
    trimmer = asyncio.create_task(trim_after_closes(budgets), name="vsi-memory-trim")
    return Running(
        runner,
        metrics_runner,
        site.port,
        metrics_port,
        state,
        settings.shutdown_timeout,
        budgets,
        trimmer,
    )


def _lean_tls(
    state: WebhookState, context: ssl.SSLContext, protocol: TLSProtocol
) -> TLSProtocol | None:
    """``protocol`` if it works on this Python; else None, said once in the log and the metric."""
    problem = lean_tls_problem(context, protocol)
    state.metrics.tls_standard_transport.set(0 if problem is None else 1)
    if problem is None:
        return protocol
    log.warning(
        "serving HTTPS with asyncio's standard TLS transport: this Python's asyncio internals "
        "differ from what the lean TLS connections need, so each connection costs more memory",
        extra=fields(reason=problem),
    )
    return None


async def _start_metrics(
    runner: web.AppRunner, budget: ConnectionBudget, settings: ServeSettings
) -> int:
    """Start the plain-HTTP metrics listener; its bound port."""
    await runner.setup()
    assert runner.server is not None
    factory = plain_factory(budget, runner.server)
    site = BudgetSite(runner, settings.host, settings.metrics_port, factory, scheme="http")
    await _bind(site, settings.host, settings.metrics_port)
    return site.port


async def _bind(site: BudgetSite, host: str, port: int) -> None:
    try:
        await site.start()
    except OSError as exc:
        raise WebhookError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _dev_certificates(settings: ServeSettings) -> Iterator[ServeSettings]:
    """With ``--dev``: certificates in a temporary directory (removed at exit); else as given."""
    if not settings.dev:
        yield settings
        return
    from certs.errors import CertsError
    from certs.generate import generate

    with tempfile.TemporaryDirectory(prefix="vsi-webhook-dev-") as directory:
        try:
            made = generate(
                directory, settings.service, settings.dev_namespace, extra_sans=DEV_SANS
            )
        except CertsError as exc:
            raise UsageError(f"--dev: {exc}") from None
        yield replace(settings, tls_cert=made.files.tls_cert, tls_key=made.files.tls_key)


async def serve(settings: ServeSettings) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    with _dev_certificates(settings) as effective:
        app = create_app(effective)
        running = await start(app, effective)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            _log_listening(effective, running)
            await stop.wait()
            log.info(
                "shutting down: no new connections, answering the ones already open",
                extra=fields(grace_seconds=effective.shutdown_timeout),
            )
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            await running.stop()
        log.info("stopped")


def _log_listening(settings: ServeSettings, running: Running) -> None:
    extra: dict[str, Any] = {
        "host": settings.host,
        "port": running.port,
        "metrics_port": running.metrics_port,
        "version": package_version(),
    }
    if settings.dev and settings.tls_cert is not None:
        ca = Path(settings.tls_cert).with_name("ca.crt")
        name = f"{settings.service}.{settings.dev_namespace}.svc"
        extra["ca"] = str(ca)
        extra["try"] = (
            f"curl --cacert {ca} --resolve {name}:{running.port}:127.0.0.1 "
            f"https://{name}:{running.port}/readyz"
        )
    log.info("listening", extra=fields(**extra))
