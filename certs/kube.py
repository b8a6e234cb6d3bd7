"""The four Kubernetes calls of ``vsi-certs bootstrap``: read and update a Secret, read and
replace the MutatingWebhookConfiguration (all by name: its RBAC names each object).

Objects travel as raw JSON through `vsi_common.kube` (the client's models would drop fields they do
not know), and its errors become `CertsError` here, in one place, except a 409 Conflict, which is
`Retry`: the flow in `certs.bootstrap` starts over from the reads. kubernetes_asyncio is imported
when a `BootstrapApi` is made, so that ``vsi-certs generate`` never loads it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from certs.errors import CertsError
from certs.plan import FIELD_MANAGER
from vsi_common import kube

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

REQUEST_TIMEOUT_SECONDS = kube.REQUEST_TIMEOUT_SECONDS
"""Per-request limit: an unreachable or hanging API server is an error, not a hang."""
WEBHOOK_RESOURCE = "mutatingwebhookconfigurations"
"""The resource whose caBundle bootstrap writes."""


class Retry(Exception):
    """409: another writer changed an object since we read it; re-read and try again."""


class BootstrapApi:
    """Raw-JSON calls (objects are never round-tripped through the client's models, which would
    drop fields the client does not know), with `vsi_common.kube` errors mapped to `CertsError`."""

    def __init__(self, client: ApiClient) -> None:
        from kubernetes_asyncio.client import AdmissionregistrationV1Api, CoreV1Api

        self._host = kube.host_of(client)
        self._core = CoreV1Api(client)
        self._admission = AdmissionregistrationV1Api(client)

    async def _call(
        self, target: kube.Target, request: Awaitable[Any], *, missing_ok: bool = False
    ) -> dict[str, Any] | None:
        try:
            return await kube.call_json(request, target, host=self._host, missing_ok=missing_ok)
        except kube.Conflict:  # Conflict, or AlreadyExists from a concurrent create
            raise Retry() from None
        except kube.NotFound:
            if target.resource != WEBHOOK_RESOURCE:
                raise
            raise CertsError(
                f"MutatingWebhookConfiguration {target.name!r} not found "
                "(apply the manifests first, or check --webhook-config)"
            ) from None
        except kube.KubeError as exc:
            raise CertsError(str(exc)) from None

    async def read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """``GET /api/v1/namespaces/{namespace}/secrets/{name}``; None when it does not exist."""
        target = kube.Target("get", "secrets", name, namespace)
        return await self._call(
            target,
            self._core.read_namespaced_secret(
                name, namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT_SECONDS
            ),
            missing_ok=True,
        )

    async def write_secret(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        """``PUT`` the Secret (``body`` carries the resourceVersion read): bootstrap updates the
        Secrets the manifests made and never creates one."""
        target = kube.Target("update", "secrets", name, namespace)
        request = self._core.replace_namespaced_secret(
            name,
            namespace,
            body,  # type: ignore[arg-type]  # raw JSON on purpose
            field_manager=FIELD_MANAGER,
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )
        await self._call(target, request)

    async def read_webhook(self, name: str) -> dict[str, Any]:
        """``GET`` the MutatingWebhookConfiguration; a missing one is a `CertsError` naming it."""
        target = kube.Target("get", WEBHOOK_RESOURCE, name)
        body = await self._call(
            target,
            self._admission.read_mutating_webhook_configuration(
                name, _preload_content=False, _request_timeout=REQUEST_TIMEOUT_SECONDS
            ),
        )
        assert body is not None  # missing_ok is False: a 404 raised
        return body

    async def replace_webhook(self, name: str, body: dict[str, Any]) -> None:
        """``PUT`` the MutatingWebhookConfiguration (``body`` carries the resourceVersion read)."""
        target = kube.Target("update", WEBHOOK_RESOURCE, name)
        await self._call(
            target,
            self._admission.replace_mutating_webhook_configuration(
                name,
                body,  # type: ignore[arg-type]  # raw JSON on purpose
                field_manager=FIELD_MANAGER,
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            ),
        )
