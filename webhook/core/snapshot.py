"""A cluster snapshot for the offline preview: the Secret key names the webhook's caches would hold.

``vsi-webhook mutate --cluster FILE`` shows the TLS files and the Secret warnings the cluster
would give, without a cluster. FILE holds Kubernetes objects (``kubectl get ns,secret -o yaml``:
Namespaces, Secrets, ``List``s), or the compact form the golden cases use::

    {"namespaces": {"rook-ceph": {"label": "value"}}, "secrets": {"rook-ceph/name": ["key"]}}

Only Secret *key names* are kept; values are never read. A namespace the snapshot covers (it
names the namespace or one of its Secrets) answers "not found" for a Secret it lacks; any other
namespace answers "unknown", as a namespace the caches cannot read does. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from webhook.core.model import SecretInfo
from webhook.errors import UsageError


@dataclass(frozen=True)
class Snapshot:
    """A `webhook.core.model.ClusterView` over fixed data."""

    namespaces: Mapping[str, Mapping[str, str]]
    """Labels of each namespace the snapshot names."""
    secrets: Mapping[tuple[str, str], frozenset[str]]
    """(namespace, name) -> data key names."""

    @property
    def covered(self) -> frozenset[str]:
        """Namespaces whose Secrets the snapshot lists completely."""
        return frozenset(self.namespaces) | frozenset(ns for ns, _ in self.secrets)

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """The namespace's labels, or None when the snapshot does not name it."""
        return self.namespaces.get(namespace)

    def secret(self, namespace: str, name: str) -> SecretInfo | Literal["unknown"] | None:
        """Key names of a Secret; None when its namespace is covered but it is absent."""
        if namespace not in self.covered:
            return "unknown"
        keys = self.secrets.get((namespace, name))
        return None if keys is None else SecretInfo(name, keys)


def parse_snapshot(documents: Iterable[Any], source: str) -> Snapshot:
    """A snapshot from parsed YAML/JSON documents; `UsageError` naming ``source`` when malformed."""
    namespaces: dict[str, dict[str, str]] = {}
    secrets: dict[tuple[str, str], frozenset[str]] = {}
    for index, doc in enumerate(documents, start=1):
        where = f"{source}: document {index}"
        if doc is None:
            continue
        if not isinstance(doc, Mapping):
            raise UsageError(f"{where}: expected Kubernetes objects or a cluster snapshot")
        if "kind" not in doc and ("namespaces" in doc or "secrets" in doc):
            _compact(doc, where, namespaces, secrets)
        else:
            _objects(doc, where, namespaces, secrets)
    return Snapshot(namespaces, secrets)


def _compact(
    doc: Mapping[str, Any],
    where: str,
    namespaces: dict[str, dict[str, str]],
    secrets: dict[tuple[str, str], frozenset[str]],
) -> None:
    """``{"namespaces": {ns: labels}, "secrets": {"ns/name": [keys]}}``."""
    raw_namespaces = doc.get("namespaces") or {}
    raw_secrets = doc.get("secrets") or {}
    if not isinstance(raw_namespaces, Mapping) or not isinstance(raw_secrets, Mapping):
        raise UsageError(f"{where}: 'namespaces' and 'secrets' must be mappings")
    for name, labels in raw_namespaces.items():
        namespaces[str(name)] = {str(k): str(v) for k, v in _mapping(labels, where).items()}
    for key, keys in raw_secrets.items():
        namespace, slash, name = str(key).partition("/")
        if not slash or not namespace or not name or not isinstance(keys, list):
            raise UsageError(f"{where}: secrets: expected 'namespace/name': [key, ...]")
        secrets[(namespace, name)] = frozenset(str(k) for k in keys)


def _objects(
    doc: Mapping[str, Any],
    where: str,
    namespaces: dict[str, dict[str, str]],
    secrets: dict[tuple[str, str], frozenset[str]],
) -> None:
    """A Namespace, a Secret or a ``List`` of them (other kinds are ignored)."""
    kind = doc.get("kind")
    if kind == "List" or (isinstance(kind, str) and kind.endswith("List")):
        items = doc.get("items")
        if not isinstance(items, list):
            raise UsageError(f"{where}: a {kind} without items")
        for item in items:
            _objects(_mapping(item, where), where, namespaces, secrets)
        return
    meta = _mapping(doc.get("metadata"), where)
    name = meta.get("name")
    if kind not in ("Namespace", "Secret"):
        return
    if not isinstance(name, str) or not name:
        raise UsageError(f"{where}: a {kind} without metadata.name")
    if kind == "Namespace":
        labels = _mapping(meta.get("labels"), where)
        namespaces[name] = {str(k): str(v) for k, v in labels.items()}
        return
    namespace = meta.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise UsageError(f"{where}: Secret {name} without metadata.namespace")
    keys = set(_mapping(doc.get("data"), where)) | set(_mapping(doc.get("stringData"), where))
    secrets[(namespace, name)] = frozenset(str(k) for k in keys)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: expected a mapping")
    return value
