"""The caches under Secret Roles that carry ``resourceNames``, as the examples and the chart grant.

The double answers 403 to every Secret request in the storage namespace that does not name one of
the Role's Secrets (`KubeApi.only_named`): a list or a watch without ``fieldSelector=
metadata.name=<name>``, a create, a get of another name. The real caches, over HTTP, must still
sync, answer, and give the admission warnings the webhook gives with broader access; a name the
Role leaves out is unknown (no warning about it), the others are not affected.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio.client import ApiClient, CoreV1Api

from doubles.kubeapi import RunningKubeApi
from tests.integration.kube.conftest import FAST, WEBHOOK_NS, eventually, secret
from vsi_common import kube
from webhook.core.config import parse_config
from webhook.core.model import SecretInfo
from webhook.core.warnings import secret_warnings
from webhook.server.caches import KubeCaches

PROFILES = """\
profiles:
  - name: portworx
    type: portworx
    connection: {secret: px-vault, tlsSecret: vault-tls}
"""
"""A profile that names two Secrets: the connection and its CA."""
NAMES = frozenset({"px-vault", "vault-tls"})


async def _caches(api_client: ApiClient, names: frozenset[str]) -> KubeCaches:
    caches = KubeCaches(api_client, webhook_namespace=WEBHOOK_NS, secret_names=names, backoff=FAST)
    await caches.start()
    await eventually(caches.is_synced, "sync under resourceNames")
    return caches


@pytest.fixture
async def named(cluster: RunningKubeApi, api_client: ApiClient) -> AsyncIterator[KubeCaches]:
    cluster.api.only_named("secrets", "portworx", NAMES)
    caches = await _caches(api_client, NAMES)
    try:
        yield caches
    finally:
        await caches.close()


async def test_the_double_refuses_what_a_role_with_resource_names_refuses(
    cluster: RunningKubeApi, api_client: ApiClient
) -> None:
    cluster.api.only_named("secrets", "portworx", NAMES)
    core = CoreV1Api(api_client)

    async def status(**options: str) -> int:
        target = kube.Target("list", "secrets", namespace="portworx")
        try:
            await kube.call_json(
                core.list_namespaced_secret("portworx", _preload_content=False, **options),
                target,
                host=cluster.url,
            )
        except kube.Forbidden:
            return 403
        return 200

    assert await status() == 403  # every Secret of the namespace
    assert await status(field_selector="metadata.name=px-vault") == 200
    assert await status(field_selector="metadata.name=unrelated") == 403
    # Two requirements are no single name: the API server authorizes that as a plain list.
    assert await status(field_selector="metadata.name=px-vault,metadata.namespace=portworx") == 403


async def test_the_caches_sync_and_answer_without_one_refused_request(
    cluster: RunningKubeApi, named: KubeCaches
) -> None:
    assert named.secret("portworx", "px-vault") == SecretInfo(
        "px-vault", frozenset({"VAULT_ADDR", "VAULT_TOKEN"})
    )
    assert named.secret("portworx", "vault-tls") is None
    await eventually(lambda: cluster.api.open_watches("secrets", "portworx") == 2, "watches")
    refused = [r for r in cluster.api.requests if r.resource == "secrets" and r.status == 403]
    assert refused == []


async def test_the_warnings_are_the_ones_broader_access_would_give(
    cluster: RunningKubeApi, named: KubeCaches
) -> None:
    (profile,) = parse_config(PROFILES, source="profiles").profiles[:1]
    missing = "Secret vault-tls not found in namespace portworx; Vault connection will fail"
    assert secret_warnings(profile, "portworx", named) == [missing]

    cluster.api.apply(secret("portworx", "vault-tls", {"README": "x"}))
    no_ca = "Secret vault-tls in namespace portworx has no key ca.crt (VAULT_CACERT)"
    await eventually(lambda: secret_warnings(profile, "portworx", named) == [no_ca], "no CA")

    cluster.api.apply(secret("portworx", "vault-tls", {"ca.crt": "x"}))
    await eventually(lambda: secret_warnings(profile, "portworx", named) == [], "complete")

    cluster.api.remove("secrets", "portworx", "px-vault")
    gone = "Secret px-vault not found in namespace portworx; Vault connection will fail"
    await eventually(lambda: secret_warnings(profile, "portworx", named) == [gone], "deleted")


async def test_a_name_the_role_leaves_out_is_unknown_and_the_others_are_not(
    cluster: RunningKubeApi, api_client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="webhook.server")
    cluster.api.only_named("secrets", "portworx", frozenset({"px-vault"}))
    caches = await _caches(api_client, NAMES)
    try:
        (profile,) = parse_config(PROFILES, source="profiles").profiles[:1]
        assert caches.secret("portworx", "vault-tls") == "unknown"
        assert isinstance(caches.secret("portworx", "px-vault"), SecretInfo)
        assert secret_warnings(profile, "portworx", caches) == []  # nothing known is missing
        refused = {
            r.query.get("fieldSelector")
            for r in cluster.api.requests
            if r.resource == "secrets" and r.status == 403
        }
        assert refused == {"metadata.name=vault-tls"}
        warned = [r for r in caplog.records if "403" in r.getMessage()]
        assert len(warned) == 1
    finally:
        await caches.close()
