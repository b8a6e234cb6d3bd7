"""Shared helpers for the webhook unit tests: an in-memory ClusterView and golden-case loading."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import kubernetes_validate

from webhook.core.model import AdmissionContext, SecretInfo

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
"""tests/golden: one folder per admission case."""
WEBHOOK_NAMESPACE = "vault-storage-injector"
"""The webhook's own namespace in every golden case."""
K8S_VERSION = kubernetes_validate.latest_version()
"""Newest Kubernetes schema kubernetes-validate ships; mutated objects must validate against it."""


@dataclass
class StaticCluster:
    """A `ClusterView` over fixed data (what the watch-fed caches would hold)."""

    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, list[str]] = field(default_factory=dict)
    watched: bool = True

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self.namespaces.get(namespace)

    def secret(self, namespace: str, name: str) -> SecretInfo | Literal["unknown"] | None:
        """As the caches answer: "unknown" in a namespace they do not watch (one the data
        names neither by its labels nor by a Secret)."""
        prefix = f"{namespace}/"
        if not self.watched or (
            namespace not in self.namespaces and not any(k.startswith(prefix) for k in self.secrets)
        ):
            return "unknown"
        keys = self.secrets.get(f"{namespace}/{name}")
        return None if keys is None else SecretInfo(name, frozenset(keys))


def context_from_review(
    review: Mapping[str, Any], cluster: StaticCluster | None
) -> AdmissionContext:
    """The AdmissionContext the server builds from an AdmissionReview v1 request."""
    req = review["request"]
    return AdmissionContext(
        operation=req["operation"],
        namespace=req.get("namespace", ""),
        group=req["kind"]["group"],
        version=req["kind"]["version"],
        kind=req["kind"]["kind"],
        dry_run=bool(req.get("dryRun")),
        webhook_namespace=WEBHOOK_NAMESPACE,
        cluster=cluster,
    )


def load_cluster(case: Path) -> StaticCluster | None:
    path = case / "cluster.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return StaticCluster(data.get("namespaces", {}), data.get("secrets", {}))


def validate(obj: Mapping[str, Any]) -> None:
    """Strict schema validation (raises kubernetes_validate.ValidationError)."""
    kubernetes_validate.validate(dict(obj), K8S_VERSION, strict=True)


OPERATOR_VOLUME_FIELDS = ("mountPath", "readOnly", "mountPropagation")
"""Fields of a StorageCluster ``spec.volumes`` entry that the operator turns into a mount."""


def validate_storage_cluster(mutated: Mapping[str, Any]) -> None:
    """A StorageCluster is a CRD without a schema here: its env and volumes become the portworx
    container's env and the pod's volumes (libopenstorage/operator deployment.go, ``user-``
    names), which are checked strictly against the Pod schema."""
    spec = mutated.get("spec") or {}
    volumes = [
        {k: v for k, v in vol.items() if k not in OPERATOR_VOLUME_FIELDS}
        | {"name": f"user-{vol['name']}"}
        for vol in spec.get("volumes", [])
    ]
    mounts = [
        {"name": f"user-{vol['name']}"}
        | {k: v for k, v in vol.items() if k in ("mountPath", "readOnly")}
        for vol in spec.get("volumes", [])
    ]
    portworx = {"name": "portworx", "image": spec.get("image", "portworx/oci-monitor")}
    if spec.get("env"):
        portworx["env"] = spec["env"]
    if mounts:
        portworx["volumeMounts"] = mounts
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "portworx", "namespace": mutated["metadata"]["namespace"]},
        "spec": {"containers": [portworx]},
    }
    if volumes:
        pod["spec"]["volumes"] = volumes
    validate(pod)


def secret_refs(obj: Any) -> list[Mapping[str, Any]]:
    """Every ``secretKeyRef`` anywhere in ``obj``."""
    found: list[Mapping[str, Any]] = []
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            ref = item.get("secretKeyRef")
            if isinstance(ref, Mapping):
                found.append(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def required_refs_to_absent(
    mutated: Any, namespace: str, cluster: StaticCluster | None, original: Any = None
) -> list[str]:
    """The Secrets the webhook made ``mutated`` require (non-optional ``secretKeyRef``s that
    ``original`` lacks) and that ``cluster`` knows are absent from ``namespace``: a pod with
    one never starts."""
    if cluster is None:
        return []
    return sorted(
        str(ref.get("name"))
        for ref in added_secret_refs(mutated, original)
        if not ref.get("optional") and cluster.secret(namespace, str(ref.get("name"))) is None
    )


def added_secret_refs(mutated: Any, original: Any) -> list[Mapping[str, Any]]:
    """The ``secretKeyRef``s of ``mutated`` that ``original`` does not have (as a multiset)."""
    before = [dict(ref) for ref in secret_refs(original)]
    added = []
    for ref in secret_refs(mutated):
        if dict(ref) in before:
            before.remove(dict(ref))
        else:
            added.append(ref)
    return added
