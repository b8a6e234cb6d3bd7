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
        if not self.watched:
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
