"""/healthz, /readyz and /metrics, and profile reloads, on the running server."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import aiohttp
import orjson

from tests.integration.webhook.conftest import Server, StartServer
from tests.integration.webhook.helpers import SNI, admission_review, pod, wait_for
from webhook.core.model import AdmissionContext, MutationResult, SecretInfo
from webhook.errors import ConfigError
from webhook.server.configreload import LoadedConfig, ProfilesFile
from webhook.server.settings import ServeSettings


async def test_healthz_answers_ok(server: Server) -> None:
    assert await server.client.get("/healthz") == (200, "ok\n")


async def test_readyz_lists_every_check_when_ready(server: Server) -> None:
    status, text = await server.client.get("/readyz")
    assert status == 200
    lines = text.splitlines()
    assert lines[0] == "[+]shutdown ok"
    assert lines[1].startswith("[+]certificate ok (serial ")
    assert lines[2] == "[+]profiles ok"
    assert lines[3] == "[+]caches ok (off: namespaceSelector trusted, Secret warnings off)"
    assert lines[-1] == "readyz check passed"


class _Caches:
    """A stand-in for the watch-fed caches: synced when the test says so."""

    def __init__(self) -> None:
        self.synced = False
        self.closed = False
        self.secret_names: frozenset[str] = frozenset()

    async def start(self) -> None:
        return None

    def is_synced(self) -> bool:
        return self.synced

    async def close(self) -> None:
        self.closed = True

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return None

    def secret(self, namespace: str, name: str) -> SecretInfo | None:
        return None

    def set_secret_names(self, names: frozenset[str]) -> None:
        self.secret_names = names


async def test_readyz_is_unready_until_the_caches_are_synced(start_server: StartServer) -> None:
    caches = _Caches()

    async def connect(settings: ServeSettings, names: frozenset[str]) -> _Caches:
        caches.secret_names = names
        return caches

    def loader(file: ProfilesFile | None) -> LoadedConfig:
        return LoadedConfig(mutator=_skip_all, secret_names=frozenset({"px-vault"}))

    server = await start_server(cluster_source=connect, mutator_source=loader)
    status, text = await server.client.get("/readyz")
    assert status == 503
    assert "[-]caches failed: caches not synced yet" in text
    assert text.endswith("readyz check failed\n")
    assert caches.secret_names == frozenset({"px-vault"})

    caches.synced = True
    status, text = await server.client.get("/readyz")
    assert status == 200
    assert "[+]caches ok (synced)" in text
    await server.running.stop()
    assert caches.closed


def _skip_all(obj: object, ctx: AdmissionContext) -> MutationResult:
    return MutationResult(outcome="skipped", reason="not-a-pod")


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics")


async def test_metrics_show_latency_buckets_reviews_bad_requests_and_certificate_expiry(
    server: Server,
) -> None:
    await server.client.review(admission_review(pod()))
    await server.client.post(b"[]")
    status, text = await server.client.get("/metrics")
    assert status == 200
    for bucket in ("0.005", "0.025", "0.1", "0.5", "1.0", "2.5", "10.0", "25.0", "+Inf"):
        assert f'vsi_webhook_review_duration_seconds_bucket{{le="{bucket}"}} 1.0' in text
    assert (
        'vsi_webhook_reviews_total{kind="Pod",operation="CREATE",outcome="mutated",'
        'reason="annotated"} 1.0' in text
    )
    assert 'vsi_webhook_bad_requests_total{reason="not-object"} 1.0' in text
    current = server.state.tls.current
    assert current is not None
    expiry = _sample(text, "vsi_webhook_certificate_expiry_timestamp_seconds")
    assert expiry == current.not_after.timestamp()
    version = metadata.version("vault-storage-injector")
    assert _sample(text, f'vsi_webhook_build_info{{version="{version}"}}') == 1.0


async def test_the_metrics_port_serves_the_same_metrics_over_plain_http(
    start_server: StartServer,
) -> None:
    server = await start_server(metrics_port=_free_port())
    await server.client.review(admission_review(pod()))
    assert server.running.metrics_port is not None
    async with (
        aiohttp.ClientSession() as plain,
        plain.get(f"http://127.0.0.1:{server.running.metrics_port}/metrics") as resp,
    ):
        text = await resp.text()
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
    assert 'outcome="mutated"' in text


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _file_loader(file: ProfilesFile | None) -> LoadedConfig:
    """Profiles for the test: the file holds the annotation value; "!" makes it invalid."""
    assert file is not None
    value = file.text.strip()
    if value.startswith("!"):
        raise ConfigError(f"{file.source}: value: must not start with '!'")

    def mutator(obj: object, ctx: AdmissionContext) -> MutationResult:
        op = {"op": "add", "path": "/metadata/annotations", "value": {"v": value}}
        return MutationResult(outcome="mutated", reason="annotated", ops=[op])

    return LoadedConfig(mutator=mutator)


async def _annotation(server: Server) -> str:
    import base64

    answer = await server.client.review(admission_review(pod()))
    ops = orjson.loads(base64.b64decode(answer["response"]["patch"]))
    value: str = ops[0]["value"]["v"]
    return value


async def test_a_changed_profiles_file_is_used_and_an_invalid_one_keeps_the_last_good(
    start_server: StartServer, tmp_path: Path
) -> None:
    config = tmp_path / "profiles.yaml"
    config.write_text("one\n")
    server = await start_server(config_path=config, mutator_source=_file_loader)
    assert await _annotation(server) == "one"

    config.write_text("two\n")

    async def uses_two() -> bool:
        return await _annotation(server) == "two"

    await wait_for(uses_two, timeout=5, what="the changed profiles")

    config.write_text("!broken\n")
    failures = server.state.metrics.config_reloads.labels("failure")

    async def refused() -> bool:
        return failures._value.get() == 1

    await wait_for(refused, timeout=5, what="the invalid profiles to be refused")
    assert await _annotation(server) == "two"
    status, text = await server.client.get("/readyz")
    assert status == 200
    assert "[+]profiles ok (last change refused, previous profiles in use:" in text
    assert "must not start with '!'" in text
    _, metrics = await server.client.get("/metrics")
    assert 'vsi_webhook_config_reloads_total{result="failure"} 1.0' in metrics
    assert "vsi_webhook_config_last_reload_success 0.0" in metrics


async def test_a_reloaded_profiles_file_hands_its_secret_names_to_the_caches(
    start_server: StartServer, tmp_path: Path
) -> None:
    caches = _Caches()

    async def connect(settings: ServeSettings, names: frozenset[str]) -> _Caches:
        caches.secret_names = names
        return caches

    def loader(file: ProfilesFile | None) -> LoadedConfig:
        assert file is not None
        names = frozenset(file.text.split())
        return LoadedConfig(mutator=_skip_all, secret_names=names)

    config = tmp_path / "profiles.yaml"
    config.write_text("px-vault\n")
    await start_server(config_path=config, mutator_source=loader, cluster_source=connect)
    assert caches.secret_names == frozenset({"px-vault"})

    config.write_text("px-vault rook-vault\n")

    async def followed() -> bool:
        return caches.secret_names == frozenset({"px-vault", "rook-vault"})

    await wait_for(followed, timeout=5, what="the caches to follow the new Secret names")


async def test_after_sigterm_readyz_fails_and_answers_close_their_connection(
    server: Server,
) -> None:
    server.state.begin_shutdown()
    status, text = await server.client.get("/readyz")
    assert status == 503
    assert "[-]shutdown failed: shutting down" in text
    async with server.client.session.post(
        f"{server.client.base}/mutate",
        data=orjson.dumps(admission_review(pod())),
        headers={"Content-Type": "application/json"},
        server_hostname=SNI,
    ) as resp:
        assert resp.status == 200
        assert resp.headers["Connection"] == "close"
