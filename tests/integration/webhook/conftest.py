"""Fixtures that start the real webhook server (HTTPS on a free port) with certificates the tests
make, and a client that verifies it against the generated CA."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from certs.generate import CertFiles, generate
from tests.integration.webhook.helpers import NAMESPACE, SERVICE, Client, annotate_loader
from webhook.server.app import create_app
from webhook.server.configreload import MutatorLoader
from webhook.server.protocols import TLSConnection, TLSProtocol
from webhook.server.running import Running, start
from webhook.server.settings import ServeSettings
from webhook.server.state import STATE, ClusterConnector, WebhookState


@pytest.fixture
def cert_files(tmp_path: Path) -> CertFiles:
    return generate(tmp_path / "tls", SERVICE, NAMESPACE).files


@pytest.fixture
def settings(cert_files: CertFiles) -> ServeSettings:
    """Fast reloads and short timeouts so the tests wait seconds, not minutes."""
    return ServeSettings(
        tls_cert=cert_files.tls_cert,
        tls_key=cert_files.tls_key,
        host="127.0.0.1",
        port=0,
        metrics_port=0,
        use_kubernetes=False,
        idle_timeout=5.0,
        read_timeout=5.0,
        shutdown_timeout=5.0,
        reload_interval=0.2,
        webhook_namespace=NAMESPACE,
    )


@dataclass
class Server:
    """A running webhook and a verifying client."""

    running: Running
    client: Client
    state: WebhookState
    settings: ServeSettings
    extra: dict[str, Any] = field(default_factory=dict)


StartServer = Callable[..., Any]


@pytest.fixture
async def start_server(
    cert_files: CertFiles, settings: ServeSettings
) -> AsyncIterator[StartServer]:
    """``await start_server(**setting_overrides, mutator_source=..., cluster_source=...,
    tls_protocol=...)``."""
    started: list[Running] = []
    sessions: list[aiohttp.ClientSession] = []

    async def _start(
        *,
        mutator_source: MutatorLoader = annotate_loader,
        cluster_source: ClusterConnector | None = None,
        tls_protocol: TLSProtocol = TLSConnection,
        **overrides: Any,
    ) -> Server:
        effective = replace(settings, **overrides)

        async def no_cluster(s: ServeSettings, names: frozenset[str]) -> None:
            return None

        app = create_app(
            effective,
            mutator_source=mutator_source,
            cluster_source=cluster_source or no_cluster,
        )
        running = await start(app, effective, tls_protocol=tls_protocol)
        started.append(running)
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=_client_ssl(cert_files.ca_cert))
        )
        sessions.append(session)
        return Server(
            running, Client(session, running.port, cert_files.ca_cert), app[STATE], effective
        )

    yield _start
    for session in sessions:
        await session.close()
    for running in started:
        await running.stop()


def _client_ssl(ca: Path) -> Any:
    from tests.integration.webhook.helpers import client_context

    return client_context(ca)


@pytest.fixture
async def server(start_server: StartServer) -> Server:
    started: Server = await start_server()
    return started
