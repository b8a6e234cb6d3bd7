"""Fixtures shared by every test area: a real OpenBao server (session-wide, and fresh ones)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo.openbao import OpenBao, start_openbao


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    """One real OpenBao dev server for the session (HTTP, HTTPS and mutual-TLS listeners).

    Tests share it, so each uses its own mount or path; tests that seal or stop Vault use
    `openbao_factory` instead.
    """
    server = start_openbao(tmp_path_factory.mktemp("openbao"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def openbao_tls(openbao: OpenBao) -> OpenBao:
    """The session server, for HTTPS tests (``https_addr``, ``ca_cert``, ``mtls_addr``)."""
    return openbao


@pytest.fixture
def openbao_factory(tmp_path: Path) -> Iterator[Callable[[], OpenBao]]:
    """Start throw-away OpenBao servers (for sealing, stopping); all are stopped at the end."""
    started: list[OpenBao] = []

    def start() -> OpenBao:
        server = start_openbao(tmp_path / f"openbao-{len(started)}")
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
