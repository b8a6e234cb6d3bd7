"""Profile and certificate reloads that fail or hang, on the running server: the previous
material keeps serving, the failure is counted, /readyz turns unready only when it persists, and
shutdown never waits for a stuck check."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

from tests.integration.webhook.conftest import Server, StartServer
from tests.integration.webhook.helpers import admission_review, pod, wait_for
from webhook.core.model import AdmissionContext, MutationResult
from webhook.server.configreload import LoadedConfig, MutatorLoader, ProfilesFile

DEADLINE = 10.0


async def _true(value: bool) -> bool:
    return value


def _reloads(server: Server, metric: str, result: str) -> float:
    value = server.state.metrics.registry.get_sample_value(
        f"vsi_webhook_{metric}_reloads_total", {"result": result}
    )
    return value or 0.0


def _loader(hang: threading.Event, release: threading.Event) -> MutatorLoader:
    def load(file: ProfilesFile | None) -> LoadedConfig:
        assert file is not None
        if hang.is_set():  # a loader stuck for good: what a hung read looks like from here
            release.wait(30)
        value = file.text.strip()

        def mutator(obj: object, ctx: AdmissionContext) -> MutationResult:
            op = {"op": "add", "path": "/metadata/annotations", "value": {"v": value}}
            return MutationResult(outcome="mutated", reason="annotated", ops=[op])

        return LoadedConfig(mutator=mutator)

    return load


async def test_profile_checks_that_hang_turn_readyz_unready_and_shutdown_does_not_wait(
    start_server: StartServer, tmp_path: Path
) -> None:
    config = tmp_path / "profiles.yaml"
    config.write_text("one\n")
    hang, release = threading.Event(), threading.Event()
    server = await start_server(
        config_path=config, mutator_source=_loader(hang, release), reload_timeout=0.2
    )
    try:
        hang.set()
        config.write_text("two\n")
        await wait_for(
            lambda: _true(server.state.config.readiness() is not None),
            timeout=DEADLINE,
            what="the stuck checks to make /readyz unready",
        )
        status, text = await server.client.get("/readyz")
        assert status == 503
        assert "[-]profiles failed: profiles file checks did not finish 3 times in a row" in text
        assert _reloads(server, "config", "timeout") == 1
        # Stuck checks refused nothing: the gauge of refused changes stays 1 (they have their
        # counter and /readyz), so it cannot stay 0 once the checks finish again.
        last_ok = server.state.metrics.registry.get_sample_value(
            "vsi_webhook_config_last_reload_success"
        )
        assert last_ok == 1.0
        answer = await server.client.review(admission_review(pod()))
        assert answer["response"]["allowed"] is True  # the previous profiles still answer

        started = time.monotonic()
        await asyncio.wait_for(server.running.stop(), server.settings.shutdown_timeout + 5)
        assert time.monotonic() - started < server.settings.shutdown_timeout
        stuck = [t for t in threading.enumerate() if t.name == "profiles check"]
        assert stuck
        assert all(thread.daemon for thread in stuck)
    finally:
        release.set()


async def test_a_profiles_path_turned_into_a_fifo_is_refused_at_once_and_then_followed_again(
    start_server: StartServer, tmp_path: Path
) -> None:
    config = tmp_path / "profiles.yaml"
    config.write_text("one\n")
    never = threading.Event()
    server = await start_server(config_path=config, mutator_source=_loader(never, never))
    config.unlink()
    os.mkfifo(config)
    await wait_for(
        lambda: _true(_reloads(server, "config", "failure") == 1),
        timeout=DEADLINE,
        what="the FIFO to be refused",
    )
    status, text = await server.client.get("/readyz")
    assert status == 200
    assert "is a FIFO, expected a regular file" in text
    config.unlink()
    config.write_text("three\n")
    await wait_for(
        lambda: _true(_reloads(server, "config", "success") == 1),
        timeout=DEADLINE,
        what="the next edit to be loaded",
    )
    assert server.state.config.last_error is None
