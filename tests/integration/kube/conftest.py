"""Fixtures for the code that talks to Kubernetes: the API double (`doubles.kubeapi`) on a loopback
port and a kubernetes-asyncio client pointed at it over real HTTP."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from doubles.kubeapi import TOKEN, RunningKubeApi, serve_kubeapi
from webhook.server.watch import Backoff

WEBHOOK_CONFIG = "vault-storage-injector"
NAMESPACE = "vsi"
SERVICE = "vault-storage-injector"
SECRET = "vault-storage-injector-tls"
CA_SECRET = "vault-storage-injector-ca"


def shipped_secret(name: str) -> dict[str, Any]:
    """A Secret as the manifests ship it: no type (the API server makes it Opaque), no data."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
    }


def webhook_configuration(entries: int = 2) -> dict[str, Any]:
    """A MutatingWebhookConfiguration as the manifests install it: no caBundle yet."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK_CONFIG, "labels": {"app": "vault-storage-injector"}},
        "webhooks": [
            {
                "name": f"entry{i}.vault-storage-injector.io",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "timeoutSeconds": 5,
                "clientConfig": {
                    "service": {
                        "namespace": NAMESPACE,
                        "name": SERVICE,
                        "path": "/mutate",
                        "port": 443,
                    }
                },
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ],
            }
            for i in range(entries)
        ],
    }


@pytest.fixture
async def kubeapi() -> AsyncIterator[RunningKubeApi]:
    """A fresh, empty API double serving on a loopback port."""
    async with serve_kubeapi() as running:
        yield running


@pytest.fixture
async def api_client(kubeapi: RunningKubeApi) -> AsyncIterator[ApiClient]:
    """A kubernetes-asyncio client for the double, authenticated with the double's token."""
    configuration = Configuration(host=kubeapi.url)
    configuration.api_key = {"BearerToken": f"Bearer {TOKEN}"}
    async with ApiClient(configuration) as client:
        yield client


# The caches' cluster: what test_caches.py and test_pagination.py start from.

WEBHOOK_NS = "vsi"
ENABLED = {"vault-storage-injector.io/enabled": "true"}
TOKEN_VALUE = "s3cr3t-vault-token-do-not-keep"
FAST = Backoff(initial=0.01, maximum=0.05, forbidden=0.05)
DEADLINE = 5.0
"""Seconds a condition may take to come true; only reached when something is broken."""


async def eventually(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {DEADLINE}s: {what}")
        await asyncio.sleep(0.01)


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def secret(ns: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


PX_VAULT = {"VAULT_ADDR": "https://vault.example:8200", "VAULT_TOKEN": TOKEN_VALUE}


@pytest.fixture
def cluster(kubeapi: RunningKubeApi) -> RunningKubeApi:
    api = kubeapi.api
    api.apply(namespace("portworx", ENABLED | {"team": "storage"}))
    api.apply(namespace("plain", {"team": "apps"}))
    api.apply(namespace(WEBHOOK_NS, ENABLED))
    api.apply(secret("portworx", "px-vault", PX_VAULT))
    api.apply(secret("portworx", "unrelated", {"password": "not-ours"}))
    api.apply(secret("plain", "px-vault", PX_VAULT))
    return kubeapi
