"""PVC -> bound PV lookups for key path templates with ``{pv}`` or ``{volume_handle}``.

Only those templates need the Kubernetes API, so ``run`` imports this module (and
kubernetes_asyncio with it) lazily. At mount time the claim is bound, so the PVC names its PV and
the PV carries the CSI volume handle. Objects are read as raw JSON: two small GETs per volume, no
model deserialization. In a pod the in-cluster config is used; elsewhere the kubeconfig.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from injector.errors import KubernetesError
from vsi_common import kube


@dataclass(frozen=True)
class BoundVolume:
    """What a PVC is bound to."""

    pv: str
    """Name of the bound PersistentVolume."""
    volume_handle: str
    """The PV's ``spec.csi.volumeHandle``, empty for non-CSI volumes."""


async def _get(target: kube.Target, request: Awaitable[Any], host: str) -> dict[str, Any]:
    try:
        body = await kube.call_json(request, target, host=host)
    except kube.KubeError as exc:
        raise KubernetesError(f"cannot read {target.describe()}: {exc}") from None
    assert body is not None  # missing_ok is False: a 404 raised
    return body


async def resolve(
    namespace: str, pvcs: Sequence[str], seconds: float, need_handle: bool
) -> dict[str, BoundVolume]:
    """The bound PV (and CSI handle) of each PVC; KubernetesError when unbound or unreadable."""
    from kubernetes_asyncio.client import CoreV1Api

    async def one(api: CoreV1Api, host: str, pvc: str) -> tuple[str, BoundVolume]:
        claim = await _get(
            kube.Target("get", "persistentvolumeclaims", pvc, namespace),
            api.read_namespaced_persistent_volume_claim(pvc, namespace, _preload_content=False),
            host,
        )
        pv_name = (claim.get("spec") or {}).get("volumeName") or ""
        phase = (claim.get("status") or {}).get("phase")
        if not pv_name or phase not in (None, "Bound"):
            raise KubernetesError(f"PVC {namespace}/{pvc} is not bound to a PV (phase {phase})")
        volume = await _get(
            kube.Target("get", "persistentvolumes", pv_name),
            api.read_persistent_volume(pv_name, _preload_content=False),
            host,
        )
        handle = ((volume.get("spec") or {}).get("csi") or {}).get("volumeHandle") or ""
        if need_handle and not handle:
            raise KubernetesError(f"PV {pv_name} of PVC {namespace}/{pvc} has no CSI volumeHandle")
        return pvc, BoundVolume(pv_name, handle)

    async def run() -> dict[str, BoundVolume]:
        try:
            client = await kube.load_client()
        except kube.KubeConfigError as exc:
            raise KubernetesError(f"no Kubernetes API configuration: {exc}") from None
        async with client:
            api, host = CoreV1Api(client), kube.host_of(client)
            pairs = await asyncio.gather(*(one(api, host, pvc) for pvc in pvcs))
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
