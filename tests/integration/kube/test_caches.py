"""`webhook.server.caches.KubeCaches` against the Kubernetes API double: list+watch over real HTTP.

Namespaces feed `namespace_labels`; every (opted-in namespace, profile Secret name) gets a list and
a watch of that one Secret (``fieldSelector=metadata.name=<name>``) that feed `secret` with key
names only, so the caches work where the Secret Roles carry ``resourceNames`` (the double's
`KubeApi.only_named` answers 403 to anything else, as RBAC would). Waits are conditions with a
deadline, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import MappingProxyType

import pytest
from kubernetes_asyncio.client import ApiClient

from doubles.kubeapi import RunningKubeApi
from tests.integration.kube.conftest import (
    ENABLED,
    FAST,
    PX_VAULT,
    TOKEN_VALUE,
    WEBHOOK_NS,
    eventually,
    namespace,
    secret,
)
from vsi_common.logs import FIELDS_ATTR
from webhook.core.model import ClusterView, SecretInfo
from webhook.server.caches import KubeCaches, KubeUnavailable, kubernetes_configured


@pytest.fixture
async def caches(cluster: RunningKubeApi, api_client: ApiClient) -> AsyncIterator[KubeCaches]:
    caches = KubeCaches(
        api_client,
        webhook_namespace=WEBHOOK_NS,
        secret_names=frozenset({"px-vault", "vault-tls"}),
        backoff=FAST,
    )
    assert not caches.is_synced()
    await caches.start()
    try:
        await eventually(caches.is_synced, "initial sync")
        yield caches
    finally:
        await caches.close()


async def test_initial_sync_answers_labels_and_secret_key_names_from_memory(
    cluster: RunningKubeApi, caches: KubeCaches
) -> None:
    view: ClusterView = caches
    assert view.namespace_labels("portworx") == ENABLED | {"team": "storage"}
    assert view.namespace_labels("plain") == {"team": "apps"}
    assert view.namespace_labels("no-such-namespace") is None
    assert view.secret("portworx", "px-vault") == SecretInfo(
        "px-vault", frozenset({"VAULT_ADDR", "VAULT_TOKEN"})
    )
    assert view.secret("portworx", "vault-tls") is None  # watched, does not exist
    assert view.secret("portworx", "unrelated") == "unknown"  # not a name we look for
    assert view.secret("plain", "px-vault") == "unknown"  # namespace not opted in
    assert view.secret(WEBHOOK_NS, "px-vault") == "unknown"  # never the webhook's own

    def secret_watches() -> dict[tuple[str, str | None, str | None], int]:
        return {k: n for k, n in cluster.api.watching.items() if k[0] == "secrets" and n}

    watched = {("secrets", "portworx", "px-vault"): 1, ("secrets", "portworx", "vault-tls"): 1}
    await eventually(lambda: secret_watches() == watched, "one watch per Secret name")
    secret_requests = [r for r in cluster.api.requests if r.resource == "secrets"]
    assert {r.namespace for r in secret_requests} == {"portworx"}  # no cluster-wide access
    assert {r.verb for r in secret_requests} == {"list", "watch"}
    # Each asks for one Secret by name: "unrelated" is never sent to the webhook.
    assert {r.query["fieldSelector"] for r in secret_requests} == {
        "metadata.name=px-vault",
        "metadata.name=vault-tls",
    }


async def test_namespace_events_change_the_labels(
    cluster: RunningKubeApi, caches: KubeCaches
) -> None:
    cluster.api.apply(namespace("new", {"a": "1"}))
    await eventually(lambda: caches.namespace_labels("new") == {"a": "1"}, "ADDED")

    cluster.api.apply(namespace("new", {"a": "2"}))
    await eventually(lambda: caches.namespace_labels("new") == {"a": "2"}, "MODIFIED")

    cluster.api.remove("namespaces", None, "new")
    await eventually(lambda: caches.namespace_labels("new") is None, "DELETED")


async def test_opting_a_namespace_in_and_out_starts_and_stops_its_secret_watch(
    cluster: RunningKubeApi, caches: KubeCaches
) -> None:
    assert cluster.api.open_watches("secrets", "plain") == 0

    cluster.api.apply(namespace("plain", ENABLED))
    await eventually(
        lambda: caches.secret("plain", "px-vault") != "unknown", "Secrets of the opted-in namespace"
    )
    assert caches.secret("plain", "px-vault") == SecretInfo(
        "px-vault", frozenset({"VAULT_ADDR", "VAULT_TOKEN"})
    )
    await eventually(lambda: cluster.api.open_watches("secrets", "plain") == 2, "watches open")

    cluster.api.apply(namespace("plain", {"vault-storage-injector.io/enabled": "false"}))
    await eventually(lambda: caches.secret("plain", "px-vault") == "unknown", "opted out")
    await eventually(lambda: cluster.api.open_watches("secrets", "plain") == 0, "watches closed")
    assert caches.is_synced()


async def test_secret_events_in_an_opted_in_namespace_change_the_answer(
    cluster: RunningKubeApi, caches: KubeCaches
) -> None:
    cluster.api.apply(secret("portworx", "vault-tls", {"ca.crt": "x", "tls.crt": "y"}))
    await eventually(
        lambda: (
            caches.secret("portworx", "vault-tls")
            == SecretInfo("vault-tls", frozenset({"ca.crt", "tls.crt"}))
        ),
        "Secret added",
    )

    cluster.api.apply(secret("portworx", "px-vault", {"VAULT_TOKEN": TOKEN_VALUE}))
    await eventually(
        lambda: (
            caches.secret("portworx", "px-vault")
            == SecretInfo("px-vault", frozenset({"VAULT_TOKEN"}))
        ),
        "Secret modified (VAULT_ADDR gone)",
    )

    cluster.api.remove("secrets", "portworx", "px-vault")
    await eventually(lambda: caches.secret("portworx", "px-vault") is None, "Secret deleted")


async def test_forbidden_secrets_are_unknown_and_logged_once(
    cluster: RunningKubeApi, api_client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    cluster.api.apply(namespace("locked", ENABLED))
    cluster.api.apply(secret("locked", "px-vault", PX_VAULT))
    cluster.api.forbid("list", "secrets", "locked")
    caplog.set_level(logging.INFO, logger="webhook.server")
    caches = KubeCaches(
        api_client, webhook_namespace=WEBHOOK_NS, secret_names=frozenset({"px-vault"}), backoff=FAST
    )
    await caches.start()
    try:
        await eventually(caches.is_synced, "sync with a forbidden namespace")
        assert caches.secret("locked", "px-vault") == "unknown"
        assert caches.secret("portworx", "px-vault") != "unknown"
        await eventually(
            lambda: cluster.api.count("list", "secrets", "locked") >= 3, "retries after 403"
        )
        about_locked = [r for r in caplog.records if log_fields(r).get("namespace") == "locked"]
        assert len(about_locked) == 1
        assert "403" in about_locked[0].getMessage()
        assert about_locked[0].levelno == logging.WARNING

        cluster.api.allow("list", "secrets", "locked")  # RBAC granted later
        await eventually(lambda: caches.secret("locked", "px-vault") != "unknown", "recovered")
    finally:
        await caches.close()


def log_fields(record: logging.LogRecord) -> dict[str, object]:
    """The structured fields of a log line (`vsi_common.logs.fields`)."""
    found = getattr(record, FIELDS_ATTR, None)
    return found if isinstance(found, dict) else {}


def reachable_texts(root: object, skip: tuple[type, ...]) -> Iterator[str]:
    """Every str and bytes (as text) reachable from ``root`` through containers and attributes."""
    seen: set[int] = set()
    stack: list[object] = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, skip):
            continue
        seen.add(id(item))
        if isinstance(item, str):
            yield item
        elif isinstance(item, bytes | bytearray):
            yield bytes(item).decode("latin-1")
        elif isinstance(item, dict | MappingProxyType):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, KubeCaches):
            stack.extend(vars(item).values())


async def test_secret_values_are_not_kept_in_the_caches(caches: KubeCaches) -> None:
    encoded = base64.b64encode(TOKEN_VALUE.encode()).decode()
    # The client and background tasks are plumbing, not cache state.
    texts = list(reachable_texts(caches, skip=(ApiClient, asyncio.Task)))
    assert "VAULT_TOKEN" in texts  # the walk does reach the Secret data
    assert not [t for t in texts if TOKEN_VALUE in t or encoded in t]


async def test_expired_resource_version_lists_again_and_keeps_following(
    cluster: RunningKubeApi, caches: KubeCaches
) -> None:
    lists_before = cluster.api.count("list", "namespaces")

    cluster.api.compact()  # open watches get ERROR 410 Gone
    await eventually(lambda: cluster.api.count("list", "namespaces") > lists_before, "re-list")
    cluster.api.apply(namespace("after-gone", {"x": "y"}))

    await eventually(lambda: caches.namespace_labels("after-gone") == {"x": "y"}, "new events")
    assert caches.is_synced()


async def test_errors_are_retried_with_backoff_and_logged_once(
    cluster: RunningKubeApi, caches: KubeCaches, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webhook.server")
    lists_before = cluster.api.count("list", "namespaces")
    cluster.api.fail_next("list", "namespaces")
    cluster.api.fail_next("list", "namespaces")

    cluster.api.compact()  # forces a re-list, which fails twice
    cluster.api.apply(namespace("after-errors", {"x": "y"}))

    await eventually(lambda: caches.namespace_labels("after-errors") == {"x": "y"}, "recovered")
    assert cluster.api.count("list", "namespaces") == lists_before + 3
    failures = [
        r
        for r in caplog.records
        if "list namespaces failed with HTTP 500" in str(log_fields(r).get("error"))
    ]
    assert len(failures) == 1
    assert any("reconnected" in r.getMessage() for r in caplog.records)


async def test_connect_without_any_configuration_raises_kube_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not kubernetes_configured()

    with pytest.raises(KubeUnavailable, match="no Kubernetes configuration"):
        await KubeCaches.connect(webhook_namespace=WEBHOOK_NS, secret_names=frozenset())


async def test_connect_with_a_kubeconfig_follows_the_cluster(
    cluster: RunningKubeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(cluster.kubeconfig())
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(config))
    assert kubernetes_configured()

    caches = await KubeCaches.connect(
        webhook_namespace=WEBHOOK_NS, secret_names=frozenset({"px-vault"})
    )
    await caches.start()
    try:
        await eventually(caches.is_synced, "sync through the kubeconfig")
        assert caches.namespace_labels("plain") == {"team": "apps"}
    finally:
        await caches.close()


async def test_bad_kubeconfig_raises_kube_unavailable_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text("clusters: [")

    with pytest.raises(KubeUnavailable, match=f"kubeconfig {config}"):
        await KubeCaches.connect(
            webhook_namespace=None, secret_names=frozenset(), kubeconfig=str(config)
        )


async def test_new_secret_names_from_a_profiles_reload_are_listed_and_followed(
    caches: KubeCaches, cluster: RunningKubeApi
) -> None:
    cluster.api.apply(secret("portworx", "rook-vault", {"VAULT_ADDR": "https://v:8200"}))
    await eventually(caches.is_synced, "initial sync")
    assert caches.secret("portworx", "rook-vault") == "unknown"

    caches.set_secret_names(frozenset({"px-vault", "rook-vault"}))

    def listed() -> bool:
        return isinstance(caches.secret("portworx", "rook-vault"), SecretInfo)

    await eventually(listed, "the new name to be listed")
    assert caches.secret("portworx", "rook-vault") == SecretInfo(
        name="rook-vault", keys=frozenset({"VAULT_ADDR"})
    )
    assert isinstance(caches.secret("portworx", "px-vault"), SecretInfo)

    px_vault = "metadata.name=px-vault"
    assert [r.query.get("fieldSelector") for r in cluster.api.requests if r.verb == "list"].count(
        px_vault
    ) == 1  # only the new name was listed
    caches.set_secret_names(frozenset({"rook-vault"}))
    assert caches.secret("portworx", "px-vault") == "unknown"
    await eventually(
        lambda: cluster.api.watching.get(("secrets", "portworx", "px-vault"), 0) == 0,
        "the dropped name's watch closed",
    )
