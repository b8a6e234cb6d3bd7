"""PVC -> bound PV lookups for key path templates with ``{pv}`` or ``{volume_handle}``.

Only those templates need the Kubernetes API, so ``cli`` imports this module (and
kubernetes_asyncio with it) lazily. At mount time the claim is bound, so the PVC names its PV and
the PV carries the CSI volume handle. Objects are read as raw JSON: two small GETs per volume, no
model deserialization. In a pod the in-cluster config is used; elsewhere the kubeconfig.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config import ConfigException

from injector.errors import KubernetesError


@dataclass(frozen=True)
class BoundVolume:
    """What a PVC is bound to."""

    pv: str
    """Name of the bound PersistentVolume."""
    volume_handle: str
    """The PV's ``spec.csi.volumeHandle``, empty for non-CSI volumes."""


async def _load_config() -> None:
    try:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config()  # type: ignore[no-untyped-call]  # untyped library
        else:
            await config.load_kube_config()
    except (ConfigException, OSError) as exc:
        raise KubernetesError(
            f"no Kubernetes API configuration (in-cluster or KUBECONFIG): {exc}"
        ) from None


async def _get(api: client.CoreV1Api, what: str, call: Any) -> dict[str, Any]:
    try:
        response = await call(_preload_content=False)
        body: dict[str, Any] = json.loads(await response.read())
        return body
    except ApiException as exc:
        reason = "not found" if exc.status == 404 else f"HTTP {exc.status} {exc.reason}"
        raise KubernetesError(f"cannot read {what}: {reason}") from None
    except (OSError, ValueError) as exc:
        raise KubernetesError(f"cannot read {what}: {exc}") from None


async def resolve(
    namespace: str, pvcs: Sequence[str], seconds: float, need_handle: bool
) -> dict[str, BoundVolume]:
    """The bound PV (and CSI handle) of each PVC; KubernetesError when unbound or unreadable."""

    async def one(api: client.CoreV1Api, pvc: str) -> tuple[str, BoundVolume]:
        claim = await _get(
            api,
            f"PVC {namespace}/{pvc}",
            lambda **kw: api.read_namespaced_persistent_volume_claim(pvc, namespace, **kw),
        )
        pv_name = (claim.get("spec") or {}).get("volumeName") or ""
        phase = (claim.get("status") or {}).get("phase")
        if not pv_name or phase not in (None, "Bound"):
            raise KubernetesError(f"PVC {namespace}/{pvc} is not bound to a PV (phase {phase})")
        volume = await _get(
            api, f"PV {pv_name}", lambda **kw: api.read_persistent_volume(pv_name, **kw)
        )
        handle = ((volume.get("spec") or {}).get("csi") or {}).get("volumeHandle") or ""
        if need_handle and not handle:
            raise KubernetesError(f"PV {pv_name} of PVC {namespace}/{pvc} has no CSI volumeHandle")
        return pvc, BoundVolume(pv_name, handle)

    async def run() -> dict[str, BoundVolume]:
        await _load_config()
        async with client.ApiClient() as api_client:
            api = client.CoreV1Api(api_client)
            pairs = await asyncio.gather(*(one(api, pvc) for pvc in pvcs))
        return dict(pairs)

    try:
        async with asyncio.timeout(seconds):
            return await run()
    except TimeoutError:
        raise KubernetesError(f"the Kubernetes API did not answer within {seconds:.1f}s") from None


def resolve_sync(
    namespace: str, pvcs: Sequence[str], timeout: float, need_handle: bool
) -> dict[str, BoundVolume]:
    """`resolve` for the synchronous CLI."""
    return asyncio.run(resolve(namespace, pvcs, timeout, need_handle))
