"""The webhook's aiohttp application factory: resources in a ``cleanup_ctx``, routes to the views.

`create_app` is the one factory that `vsi-webhook serve`, the tests and the benchmark use.
Resources (profiles, certificate, API caches, their reload tasks) live in a ``cleanup_ctx`` so they
start with the runner and stop after in-flight reviews finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from webhook.errors import UsageError
from webhook.server.configreload import ConfigReloader, MutatorLoader, default_loader
from webhook.server.metrics import WebhookMetrics
from webhook.server.settings import ServeSettings
from webhook.server.state import (
    STATE,
    BodyBudget,
    ClusterCaches,
    ClusterConnector,
    WebhookState,
)
from webhook.server.tlsreload import CertReloader, LoadedCert
from webhook.server.views import (
    HEALTHZ_PATH,
    METRICS_PATH,
    MUTATE_PATH,
    READYZ_PATH,
    count_requests,
    healthz,
    metrics_view,
    mutate,
    readyz,
)

log = logging.getLogger(__name__)


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

    def config_reloaded(result: str) -> None:
        metrics.config_reloads.labels(result).inc()
        if result != "timeout":  # a check that did not finish refused nothing
            metrics.config_last_reload_ok.set(1 if result == "success" else 0)

    state = WebhookState(
        settings=settings,
        metrics=metrics,
        bodies=BodyBudget(settings.max_body_bytes_in_flight),
        config=ConfigReloader(
            settings.config_path,
            mutator_source or default_loader,
            on_reload=config_reloaded,
            check_timeout=settings.reload_timeout,
        ),
        tls=CertReloader(
            cert_path,
            key_path,
            failures_unready=settings.cert_failures_unready,
            on_change=cert_changed,
            on_failure=lambda result: metrics.certificate_reloads.labels(result).inc(),
            check_timeout=settings.reload_timeout,
        ),
    )
    metrics.bodies_in_flight.set_function(lambda: state.bodies.in_use)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[count_requests])
    app[STATE] = state
    app.cleanup_ctx.append(_resources(cluster_source or connect_kubernetes))
    app.router.add_route("*", MUTATE_PATH, mutate)
    app.router.add_get(HEALTHZ_PATH, healthz, allow_head=True)
    app.router.add_get(READYZ_PATH, readyz, allow_head=True)
    app.router.add_get(METRICS_PATH, metrics_view, allow_head=True)
    return app


def create_metrics_app(state: WebhookState) -> web.Application:
    """The plain-HTTP app of ``--metrics-port``: /metrics and /healthz of the same server."""
    app = web.Application(middlewares=[count_requests])
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
        loaded = await state.config.load_initial()
        await state.tls.load_initial()
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
