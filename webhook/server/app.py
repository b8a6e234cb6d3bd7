"""The webhook's aiohttp application: thin views over `webhook.admission.review` and the mutator.

`create_app` is the one factory that `vsi-webhook serve`, the tests and the benchmark use.
Resources (profiles, certificate, API caches, their reload tasks) live in a ``cleanup_ctx`` so they
start with the runner and stop after in-flight reviews finished. The `mutate` view is the only
place that turns `BadReview` and mutator failures into HTTP answers. The admission path does no
network I/O: it reads the body once, parses it once with orjson, and calls a pure mutator over
cached cluster state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiohttp import hdrs, web

from vsi_common.logs import fields, info_line
from webhook.admission.review import Review, Status, build_response, decide, dump, parse_review
from webhook.core.model import ClusterView, MutationResult
from webhook.errors import BadReview, UsageError
from webhook.server.configreload import ConfigReloader, MutatorLoader, default_loader
from webhook.server.metrics import CONTENT_TYPE, WebhookMetrics
from webhook.server.settings import ServeSettings
from webhook.server.tlsreload import CertReloader, LoadedCert

log = logging.getLogger(__name__)

MUTATE_PATH = "/mutate"
"""AdmissionReview endpoint (POST, application/json)."""
HEALTHZ_PATH = "/healthz"
"""Liveness: 200 while the process serves HTTP."""
READYZ_PATH = "/readyz"
"""Readiness: 200 once certificate, profiles and caches are in place, else 503 and why."""
METRICS_PATH = "/metrics"
"""Prometheus text exposition."""
JSON = "application/json"
"""The only request content type /mutate accepts."""
MUTATION_FAILED_MESSAGE = "the webhook could not mutate this object; see the webhook's logs"
"""What the apiserver shows a user when the mutator raised (the object is refused, fail closed)."""


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


ClusterConnector = Callable[[ServeSettings, frozenset[str]], Awaitable[ClusterCaches | None]]
"""Start the caches for the given Secret names; None serves without them."""


async def connect_kubernetes(
    settings: ServeSettings, secret_names: frozenset[str]
) -> ClusterCaches | None:
    """The production caches, or None with ``--no-kubernetes`` or when no cluster is configured."""
    if not settings.use_kubernetes:
        log.info(
            "serving without Kubernetes API caches (--no-kubernetes): the namespaceSelector is "
            "trusted and Secret warnings are off"
        )
        return None
    from webhook.server import caches as kube

    if settings.kubeconfig is None and not kube.kubernetes_configured():
        log.info(
            "no in-cluster config or kubeconfig: serving without API caches; the namespaceSelector "
            "is trusted and Secret warnings are off"
        )
        return None
    caches: ClusterCaches = await kube.KubeCaches.connect(
        webhook_namespace=settings.webhook_namespace,
        secret_names=secret_names,
        kubeconfig=settings.kubeconfig,
    )
    await caches.start()
    return caches


@dataclass
class WebhookState:
    """What the views share: settings, metrics and the reloadable resources."""

    settings: ServeSettings
    metrics: WebhookMetrics
    config: ConfigReloader
    tls: CertReloader
    cluster: ClusterCaches | None = None
    cluster_started: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    in_flight: int = 0
    """Reviews whose handler has started (headers read) and not yet answered."""
    shutting_down: bool = False
    """Set on SIGTERM: answers close their connection, /readyz fails."""
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


def _check_cert_paths(settings: ServeSettings) -> tuple[Path, Path]:
    if settings.tls_cert is None or settings.tls_key is None:
        raise UsageError("--tls-cert and --tls-key are both required (or --dev)")
    return settings.tls_cert, settings.tls_key


def create_app(
    settings: ServeSettings,
    *,
    mutator_source: MutatorLoader | None = None,
    cluster_source: ClusterConnector | None = None,
) -> web.Application:
    """The webhook application for ``settings``.

    ``mutator_source`` loads the profiles into a mutator (default: `webhook.core.config` and
    `webhook.core.mutation`); ``cluster_source`` starts the API caches (default:
    `webhook.server.caches`).
    Nothing is read or connected until the runner starts the application.
    """
    cert_path, key_path = _check_cert_paths(settings)
    metrics = WebhookMetrics()

    def cert_changed(loaded: LoadedCert, reloaded: bool) -> None:
        metrics.certificate_expiry.set(loaded.not_after.timestamp())
        if reloaded:
            metrics.certificate_reloads.labels("success").inc()

    def config_reloaded(ok: bool) -> None:
        metrics.config_reloads.labels("success" if ok else "failure").inc()
        metrics.config_last_reload_ok.set(1 if ok else 0)

    state = WebhookState(
        settings=settings,
        metrics=metrics,
        config=ConfigReloader(
            settings.config_path, mutator_source or default_loader, on_reload=config_reloaded
        ),
        tls=CertReloader(
            cert_path,
            key_path,
            failures_unready=settings.cert_failures_unready,
            on_change=cert_changed,
            on_failure=lambda: metrics.certificate_reloads.labels("failure").inc(),
        ),
    )
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[STATE] = state
    app.cleanup_ctx.append(_resources(cluster_source or connect_kubernetes))
    app.router.add_route("*", MUTATE_PATH, mutate)
    app.router.add_get(HEALTHZ_PATH, healthz, allow_head=True)
    app.router.add_get(READYZ_PATH, readyz, allow_head=True)
    app.router.add_get(METRICS_PATH, metrics_view, allow_head=True)
    return app


def create_metrics_app(state: WebhookState) -> web.Application:
    """The plain-HTTP app of ``--metrics-port``: /metrics and /healthz of the same server."""
    app = web.Application()
    app[STATE] = state
    app.router.add_get(METRICS_PATH, metrics_view, allow_head=True)
    app.router.add_get(HEALTHZ_PATH, healthz, allow_head=True)
    return app


def _resources(
    connect: ClusterConnector,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def resources(app: web.Application) -> AsyncIterator[None]:
        state = app[STATE]
        settings = state.settings
        loaded = await asyncio.to_thread(state.config.load_initial)
        await asyncio.to_thread(state.tls.load_initial)
        state.tasks.append(asyncio.create_task(state.tls.watch(settings.reload_interval)))
        if settings.config_path is not None:
            state.tasks.append(asyncio.create_task(state.config.watch(settings.reload_interval)))
        try:
            state.cluster = await connect(settings, loaded.secret_names)
            state.cluster_started = True
            if state.cluster is not None:
                state.config.on_loaded = state.cluster.set_secret_names
            yield
        finally:
            for task in state.tasks:
                task.cancel()
            await asyncio.gather(*state.tasks, return_exceptions=True)
            state.tasks.clear()
            if state.cluster is not None:
                await state.cluster.close()

    return resources


async def _read_body(request: web.Request, settings: ServeSettings) -> bytes:
    """The request body, or `BadReview` for a wrong method, type, size or a body that trickles."""
    if request.method != "POST":
        raise BadReview(
            f"{request.method} is not allowed: POST an AdmissionReview",
            status=405,
            reason="method-not-allowed",
        )
    # The exact header the apiserver sends skips aiohttp's media-type parsing.
    if request.headers.get(hdrs.CONTENT_TYPE) != JSON and request.content_type != JSON:
        raise BadReview(f"content type must be {JSON}", status=415, reason="unsupported-media-type")
    length = request.content_length
    if length is not None and length > settings.max_body_bytes:
        raise _too_large(settings)
    try:
        if request.content.is_eof():
            return await request.read()
        async with asyncio.timeout(settings.read_timeout):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(settings) from None
    except TimeoutError:
        raise BadReview(
            f"body not received within {settings.read_timeout:g} s",
            status=408,
            reason="read-timeout",
        ) from None


def _too_large(settings: ServeSettings) -> BadReview:
    return BadReview(
        f"body larger than {settings.max_body_bytes} bytes", status=413, reason="too-large"
    )


def _refuse(request: web.Request, state: WebhookState, exc: BadReview) -> web.Response:
    state.metrics.bad_request(exc.reason)
    log.warning(
        "bad request",
        extra=fields(status=exc.status, reason=exc.reason, error=str(exc), peer=request.remote),
    )
    response = web.Response(status=exc.status, text=f"{exc}\n")
    if exc.status == 405:
        response.headers["Allow"] = "POST"
    if exc.status in (408, 413):
        response.force_close()
    return response


def _failure_fields(exc: BaseException) -> dict[str, str]:
    """Where a mutator failed, without its message (which could quote object values)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return {"error_type": type(exc).__name__, "where": where}


async def mutate(request: web.Request) -> web.Response:
    """``POST /mutate``: one AdmissionReview in, its answer out."""
    started = time.perf_counter()
    state = request.app[STATE]
    state.in_flight += 1
    try:
        response = await _answer(request, state, started)
    finally:
        state.request_done()
    if state.shutting_down:
        response.force_close()
    return response


async def _answer(request: web.Request, state: WebhookState, started: float) -> web.Response:
    try:
        review = parse_review(await _read_body(request, state.settings))
    except BadReview as exc:
        return _refuse(request, state, exc)
    try:
        result = decide(
            review,
            state.config.mutator,
            webhook_namespace=state.settings.webhook_namespace,
            cluster=state.cluster,
        )
        body = dump(build_response(review.uid, result.ops, result.warnings))
        outcome: str = result.outcome
        reason = result.reason
    except Exception as exc:
        log.error("mutation failed", extra=fields(uid=review.uid, **_failure_fields(exc)))
        status: Status = {"code": 500, "message": MUTATION_FAILED_MESSAGE}
        body = dump(build_response(review.uid, allowed=False, status=status))
        result = None
        outcome, reason = "error", "mutation-failed"
    elapsed = time.perf_counter() - started
    state.metrics.review(
        kind=review.kind,
        operation=review.operation,
        outcome=outcome,
        reason=reason,
        seconds=elapsed,
    )
    _log_review(review, outcome, reason, elapsed, result)
    return web.Response(body=body, content_type=JSON)


def _log_review(
    review: Review, outcome: str, reason: str, elapsed: float, result: MutationResult | None
) -> None:
    info_line(
        log,
        "review",
        {
            "uid": review.uid,
            "kind": review.kind,
            "namespace": review.namespace,
            "name": review.name,
            "operation": review.operation,
            "dry_run": review.dry_run,
            "outcome": outcome,
            "reason": reason,
            "profile": result.profile if result is not None else None,
            "patch_ops": len(result.ops) if result is not None else 0,
            "warnings": len(result.warnings) if result is not None else 0,
            "latency_ms": round(elapsed * 1000, 3),
        },
    )


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: the process serves HTTP."""
    return web.Response(text="ok\n")


def readiness_checks(state: WebhookState) -> list[tuple[str, str | None, str]]:
    """``(check, failure or None, detail)`` for the certificate, the profiles and the caches."""
    cert_problem = state.tls.readiness()
    current = state.tls.current
    cert_detail = f"serial {current.serial:x}" if current is not None else ""
    config_problem = None if state.config.is_loaded else "profiles not loaded yet"
    config_error = state.config.last_error
    config_detail = (
        f"last change refused, previous profiles in use: {config_error}" if config_error else ""
    )
    if not state.cluster_started:
        cache_problem: str | None = "caches not started yet"
        cache_detail = ""
    elif state.cluster is None:
        cache_problem, cache_detail = None, "off: namespaceSelector trusted, Secret warnings off"
    elif not state.cluster.is_synced():
        cache_problem, cache_detail = "caches not synced yet", ""
    else:
        cache_problem, cache_detail = None, "synced"
    shutdown_problem = "shutting down" if state.shutting_down else None
    return [
        ("shutdown", shutdown_problem, ""),
        ("certificate", cert_problem, cert_detail),
        ("profiles", config_problem, config_detail),
        ("caches", cache_problem, cache_detail),
    ]


async def readyz(request: web.Request) -> web.Response:
    """``GET /readyz``: 200 when every check passes, else 503; one line per check either way."""
    checks = readiness_checks(request.app[STATE])
    lines = []
    ready = True
    for name, problem, detail in checks:
        if problem is None:
            lines.append(f"[+]{name} ok" + (f" ({detail})" if detail else ""))
        else:
            ready = False
            lines.append(f"[-]{name} failed: {problem}")
    lines.append("readyz check passed" if ready else "readyz check failed")
    return web.Response(status=200 if ready else 503, text="\n".join(lines) + "\n")


async def metrics_view(request: web.Request) -> web.Response:
    """``GET /metrics``: the Prometheus text format."""
    body = request.app[STATE].metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
