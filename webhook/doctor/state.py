"""What the doctor read from the cluster, as frozen data, and the names its checks report.

`webhook.doctor.cluster` fills these dataclasses (objects as the API server's raw JSON); every
check is a pure function of them, so the checks are tested without a cluster. A read that failed
is a `Failed` (a 403 says which RBAC rule is missing), never an exception: the doctor reports what
it could not look at and goes on. Secret values are kept only in `SecretData.data`, which no
``repr`` shows, and only the doctor's ``--vault`` step ever looks at them. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from vsi_common import names
from vsi_common.report import WARN, Check
from webhook.core import constants as c

Json = dict[str, Any]

DEFAULT_NAMESPACE: Final = names.WEBHOOK_NAMESPACE
"""The webhook's namespace in manifests/base (``--webhook-namespace``; ``POD_NAMESPACE`` first)."""
DEFAULT_WEBHOOK_CONFIG: Final = "vault-storage-injector"
"""The MutatingWebhookConfiguration of manifests/base (``--webhook-config``)."""
DEFAULT_SERVICE: Final = names.WEBHOOK_SERVICE
"""The webhook's Service of manifests/base (``--service``)."""
DEFAULT_TLS_SECRET: Final = "vault-storage-injector-tls"  # noqa: S105 (a Secret name)
"""The serving-certificate Secret that ``vsi-certs bootstrap`` keeps (``--secret``)."""
DEFAULT_CONFIG_MAP: Final = "vault-storage-injector-config"
"""The profiles ConfigMap of manifests/base (``--config-map``)."""
CONFIG_KEY: Final = "config.yaml"
"""The ConfigMap key that holds the profiles file (the Deployment mounts it as that file)."""
ROTATE_CRONJOB: Final = "vault-storage-injector-certs-rotate"
"""The CronJob of manifests/base that renews the serving certificate (a fix names it)."""


@dataclass(frozen=True)
class Locations:
    """Where the webhook's own objects are (defaults: manifests/base)."""

    namespace: str = DEFAULT_NAMESPACE
    """The webhook's namespace: its Service, TLS Secret and profiles ConfigMap live there."""
    webhook_config: str = DEFAULT_WEBHOOK_CONFIG
    """The MutatingWebhookConfiguration (cluster-scoped)."""
    service: str = DEFAULT_SERVICE
    """The Service the API server calls; the certificate is made for ``<service>.<ns>.svc``."""
    secret: str = DEFAULT_TLS_SECRET
    """The ``kubernetes.io/tls`` Secret with ``tls.crt``, ``tls.key`` and ``ca.crt``."""
    config_map: str = DEFAULT_CONFIG_MAP
    """The ConfigMap whose `CONFIG_KEY` is the profiles file."""
    rotate_cronjob: str | None = ROTATE_CRONJOB
    """vsi-certs' rotation CronJob, which the certificate fixes name; None: the certificate is
    issued elsewhere (cert-manager, by hand)."""


@dataclass(frozen=True)
class Failed:
    """A read the API server refused or could not answer; the checks say what was not seen."""

    what: str
    """The object or collection, as `vsi_common.kube.Target.describe` names it."""
    message: str
    """The one-line error (no object content)."""
    forbidden: bool = False
    """A 403: the doctor's service account lacks a rule (the fix names it)."""


def unread_check(name: str, failed: Failed, rule: str, also: str = "") -> Check:
    """A check whose objects could not be read: a warning; a 403 names the missing RBAC rule
    (``also``: another way out, appended to that fix), anything else points at the API server."""
    if failed.forbidden:
        fix = f"give the doctor's service account {rule} (manifests/components/doctor){also}"
        return Check(name, WARN, f"not checked: {failed.message}", fix)
    return Check(name, WARN, f"not checked: {failed.message}", "check the Kubernetes API server")


@dataclass(frozen=True)
class SecretData:
    """A Secret the doctor read: its key names for every check, its values for ``--vault``."""

    name: str
    """The Secret's name."""
    data: Mapping[str, bytes] = field(repr=False)
    """Decoded ``data``. Secret: only `webhook.doctor.vault` reads it, nothing prints it."""

    @property
    def keys(self) -> frozenset[str]:
        """The data key names (public)."""
        return frozenset(self.data)


Got = Json | Failed | None
"""One object read with ``get``: the object, `Failed`, or None when it does not exist."""


@dataclass(frozen=True)
class Kind:
    """A kind of object the webhook mutates, and how the doctor lists and judges it."""

    group: str
    """API group ("" for the core group)."""
    version: str
    """API version."""
    kind: str
    """The kind, as the mutation's registry keys it."""
    plural: str
    """The resource name in URLs and RBAC rules."""
    operation: str
    """The admission operation the doctor asks about: UPDATE for objects a controller owns and
    an admin re-applies, CREATE for pods (a pod is mutated only when it is created)."""


DAEMONSET: Final = Kind("apps", "v1", "DaemonSet", "daemonsets", "UPDATE")
"""Portworx DaemonSet installs."""
POD: Final = Kind("", "v1", "Pod", "pods", "CREATE")
"""Portworx pods, Rook OSD pods, pods asking for volume keys."""
STORAGE_CLUSTER: Final = Kind(
    c.STORAGE_CLUSTER_GROUP, "v1", c.STORAGE_CLUSTER_KIND, "storageclusters", "UPDATE"
)
"""Portworx Operator installs (a custom resource: a cluster without its CRD has none)."""
KINDS: Final = (DAEMONSET, STORAGE_CLUSTER, POD)
"""Every kind the doctor lists, in report order (a test holds it to the mutation's registry)."""


@dataclass(frozen=True)
class Workload:
    """One listed object of a `Kind`."""

    kind: Kind
    """What it is."""
    obj: Json
    """The object as the API server returned it."""

    @property
    def namespace(self) -> str:
        """Its namespace."""
        return str((self.obj.get("metadata") or {}).get("namespace") or "")

    @property
    def check_name(self) -> str:
        """``object:<namespace>/<Kind>/<name>``: the name of its doctor check."""
        return f"object:{self.namespace}/{self.kind.kind}/{self.name}"

    @property
    def name(self) -> str:
        """Its name."""
        return str((self.obj.get("metadata") or {}).get("name") or "")


@dataclass(frozen=True)
class Unlisted:
    """A list of one kind that failed (in one namespace, or cluster-wide)."""

    kind: Kind
    """The kind that could not be listed."""
    namespace: str | None
    """The namespace, or None for a cluster-wide list."""
    failed: Failed
    """Why."""


@dataclass(frozen=True)
class InstallState:
    """The webhook's own objects."""

    webhook_config: Got
    """The MutatingWebhookConfiguration."""
    tls_secret: Got
    """The serving-certificate Secret (as a raw object: only its certificates are read)."""
    service: Got
    """The webhook's Service."""
    endpoint_slices: tuple[Json, ...] | Failed
    """The Service's EndpointSlices."""
    config_map: Got
    """The profiles ConfigMap; None also when ``--config`` made reading it unnecessary."""


@dataclass(frozen=True)
class NamespaceInfo:
    """A namespace the doctor looked at."""

    name: str
    """Its name."""
    labels: Mapping[str, str] | None
    """Its labels; None when it does not exist."""
    requested: bool
    """Named with ``-n``: the admin expects the webhook to act there."""

    @property
    def opted_in(self) -> bool:
        """Whether it carries the opt-in label with the value ``"true"``."""
        return self.labels is not None and self.labels.get(c.LABEL_ENABLED) == c.ENABLED_VALUE


@dataclass(frozen=True)
class ClusterState:
    """Everything the doctor read, for the pure checks."""

    locations: Locations
    """Where the webhook's objects are."""
    install: InstallState
    """The webhook's own objects."""
    namespaces: tuple[NamespaceInfo, ...] | Failed
    """The namespaces looked at (every namespace without ``-n``; the ``-n`` ones otherwise)."""
    workloads: tuple[Workload, ...]
    """Every listed object of `KINDS` in the namespaces looked at."""
    unlisted: tuple[Unlisted, ...]
    """The lists that failed."""
    secrets: Mapping[tuple[str, str], SecretData | Failed | None] = field(repr=False)
    """(namespace, name) -> the Secret, `Failed`, or None when it does not exist: every Secret
    the profiles name, in every namespace checked (opted in, or named with ``-n``)."""
    requested: tuple[str, ...] = ()
    """The namespaces named with ``-n`` (empty: every namespace was listed)."""

    def checked_namespaces(self) -> tuple[NamespaceInfo, ...]:
        """The namespaces whose Secrets and objects are checked: opted in or named with ``-n``
        (never the webhook's own, which it never mutates)."""
        if isinstance(self.namespaces, Failed):
            return ()
        return tuple(
            n
            for n in self.namespaces
            if (n.opted_in or n.requested)
            and n.labels is not None
            and n.name != self.locations.namespace
        )


CHECK_NAMES: Final = frozenset(
    {
        "kubernetes-api",
        "webhook-config",
        "webhook-mode",
        "ca-bundle",
        "serving-secret",
        "serving-expiry",
        "service",
        "endpoints",
        "profiles",
        "namespaces",
        "namespace",
        "secrets",
        "objects",
        "object",
        "portworx-secret",
        "leftovers",
        "vault-setup",
        "vault",
    }
)
"""Every check the doctor reports (most per namespace, profile or object: ``<name>:<scope>``);
``vault:<scope>/<check>`` carries a ``vsi-injector --check`` check. docs/troubleshooting.md maps
each to its fix, and the tests hold both to this list."""
