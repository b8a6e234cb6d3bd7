"""The contract between the admission shell and the pure mutation core.

The HTTPS server (``webhook.server.app``) and the offline preview (``vsi-webhook mutate``) both
turn their input into an `AdmissionContext` and call a `Mutator`; the mutator returns a
`MutationResult` with JSON Patch operations ready to be serialised. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

JsonObject = dict[str, Any]
PatchOp = dict[str, Any]
"""One RFC 6902 operation, e.g. ``{"op": "add", "path": "/metadata/labels", "value": {}}``."""

Outcome = Literal["mutated", "skipped"]


@dataclass(frozen=True)
class SecretInfo:
    """What the webhook may know about a Secret: its name and key names, never its values."""

    name: str
    keys: frozenset[str]


class ClusterView(Protocol):
    """Read-only view of the watch-fed caches; answers come from memory, never the network."""

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """The namespace's labels, or None when unknown (no cache: trust the namespaceSelector)."""

    def secret(self, namespace: str, name: str) -> SecretInfo | Literal["unknown"] | None:
        """The Secret's key names, None when it does not exist, "unknown" when not watched."""


@dataclass(frozen=True)
class AdmissionContext:
    """Everything the mutation may look at besides the object itself."""

    operation: str
    """CREATE, UPDATE, DELETE or CONNECT."""
    namespace: str
    """The request namespace ("" for cluster-scoped objects)."""
    group: str
    version: str
    kind: str
    """The object's group/version/kind as the request states it."""
    dry_run: bool = False
    webhook_namespace: str | None = None
    """The webhook's own namespace; objects there are never mutated."""
    cluster: ClusterView | None = None
    """Caches for namespace labels and Secret warnings; None disables both checks."""
    assume_namespace_enabled: bool = False
    """True for the offline preview: treat the namespace as opted in."""


@dataclass(frozen=True)
class MutationResult:
    """The outcome of one mutation: patch operations, warnings, and why (for logs and metrics)."""

    outcome: Outcome
    reason: str
    """Short machine-friendly reason, e.g. ``injected``, ``no-profile``, ``opted-out``."""
    ops: Sequence[PatchOp] = ()
    warnings: Sequence[str] = ()
    profile: str | None = None
    insecure: str | None = None
    """With a mutation whose profile allows insecure values: the setting that is insecure."""


class Mutator(Protocol):
    """``object + context -> patch ops``: pure, deterministic, safe to call concurrently."""

    def __call__(self, obj: Mapping[str, Any], ctx: AdmissionContext) -> MutationResult: ...
