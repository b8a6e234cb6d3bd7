"""`webhook.server.caches.KubeCaches` lists in pages (``limit``/``continue``), against the API
double: every object arrives, an object created between pages follows by its watch event, and a
continue token that expired (410) makes the caches list again from the start."""

from __future__ import annotations

from kubernetes_asyncio.client import ApiClient

from doubles.kubeapi import RunningKubeApi
from tests.integration.kube.conftest import (
    FAST,
    WEBHOOK_NS,
    eventually,
    namespace,
    secret,
)
from webhook.core.model import SecretInfo
from webhook.server.caches import KubeCaches


async def _paged_caches(cluster: RunningKubeApi, api_client: ApiClient) -> KubeCaches:
    caches = KubeCaches(
        api_client,
        webhook_namespace=WEBHOOK_NS,
        secret_names=frozenset({"px-vault"}),
        backoff=FAST,
        list_page_size=2,
    )
    await caches.start()
    return caches


def _pages(cluster: RunningKubeApi, resource: str) -> list[dict[str, str]]:
    return [r.query for r in cluster.api.requests if r.verb == "list" and r.resource == resource]


async def test_lists_come_in_pages_and_every_object_is_cached(
    cluster: RunningKubeApi, api_client: ApiClient
) -> None:
    for n in range(4):
        cluster.api.apply(namespace(f"team-{n}", {"n": str(n)}))
        cluster.api.apply(secret("portworx", f"other-{n}", {"k": "v"}))
    # Created between two pages: not in the list's snapshot, but its watch event follows.
    cluster.api.before(
        "list",
        "namespaces",
        lambda: cluster.api.before(
            "list", "namespaces", lambda: cluster.api.apply(namespace("late", {"x": "y"}))
        ),
    )
    caches = await _paged_caches(cluster, api_client)
    try:
        await eventually(caches.is_synced, "initial sync")
        for n in range(4):
            assert caches.namespace_labels(f"team-{n}") == {"n": str(n)}
        assert caches.secret("portworx", "px-vault") == SecretInfo(
            "px-vault", frozenset({"VAULT_ADDR", "VAULT_TOKEN"})
        )
        await eventually(lambda: caches.namespace_labels("late") == {"x": "y"}, "the late one")
    finally:
        await caches.close()
    pages = _pages(cluster, "namespaces")
    assert len(pages) == 4  # 7 namespaces, 2 a page
    assert all(page["limit"] == "2" for page in pages)
    assert "continue" not in pages[0]
    assert all("continue" in page for page in pages[1:])
    # The Secrets are asked for by name: one page holds px-vault alone, whatever else is there.
    assert _pages(cluster, "secrets") == [{"fieldSelector": "metadata.name=px-vault", "limit": "2"}]


async def test_an_expired_continue_token_lists_again_from_the_start(
    cluster: RunningKubeApi, api_client: ApiClient
) -> None:
    for n in range(4):
        cluster.api.apply(namespace(f"team-{n}", {"n": str(n)}))
    # Compacted between the first page and the second: the token's snapshot is gone (410).
    cluster.api.before(
        "list", "namespaces", lambda: cluster.api.before("list", "namespaces", cluster.api.compact)
    )
    caches = await _paged_caches(cluster, api_client)
    try:
        await eventually(caches.is_synced, "sync after listing again")
        for n in range(4):
            assert caches.namespace_labels(f"team-{n}") == {"n": str(n)}
    finally:
        await caches.close()
    lists = [r for r in cluster.api.requests if r.verb == "list" and r.resource == "namespaces"]
    assert (lists[1].status, "continue" in lists[1].query) == (410, True)
    assert "continue" not in lists[2].query  # from the start, not from the expired token
    assert [r.status for r in lists[2:]] == [200] * 4
