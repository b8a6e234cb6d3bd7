"""Fixtures for the code that talks to Kubernetes: the API double (`tests.kubeapi`) on a loopback
port and a kubernetes-asyncio client pointed at it over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from tests.kubeapi import TOKEN, RunningKubeApi, serve_kubeapi

WEBHOOK_CONFIG = "vault-storage-injector"
NAMESPACE = "vsi"
SERVICE = "vault-storage-injector"
SECRET = "vault-storage-injector-tls"


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
