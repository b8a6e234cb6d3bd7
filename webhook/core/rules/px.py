"""What Portworx does itself, as its manuals and code show it, for the two Portworx rules.

- **Where it reads px-vault.** With ``-secret_type vault`` Portworx reads a Secret named
  ``px-vault`` itself, through the API, from the namespace ``PX_SECRETS_NAMESPACE`` names; without
  it, ``portworx`` for a DaemonSet install (the Portworx manual: "Portworx searches for this secret
  with name px-vault under the portworx namespace"), and the StorageCluster's namespace for an
  operator install (the operator sets ``PX_SECRETS_NAMESPACE`` to it, and ``spec.env`` overrides
  that: libopenstorage/operator drivers/storage/portworx/deployment.go). Env entries are only its
  fallback, and a ``secretKeyRef`` can name a Secret in the pod's own namespace only: so the
  profile's px-vault gets env entries only where it is in the object's namespace, and
  ``PX_SECRETS_NAMESPACE`` is set only where Portworx's default would be wrong (`env_plan`).
- **Which pods its operator renders.** The operator makes its Portworx pods from the
  StorageCluster, labelled ``operator.libopenstorage.org/managed-by: portworx`` and owned by the
  StorageCluster, with ``spec.env`` copied into the container, ``spec.secretsProvider`` as
  ``-secret_type`` and each ``spec.volumes`` entry as ``user-<name>`` (deployment.go, and
  pkg/controller/storagecluster). Those pods get their Vault settings from the StorageCluster, so
  the ``portworx`` rule leaves them to the ``portworx-operator`` rule
  (`webhook.core.rules.operator_pods`).
- **What a refused switch means** (`switch_refused`): another provider already holds the keys of
  the volumes encrypted so far.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from webhook.core import builders as b
from webhook.core import constants as c
from webhook.core import patch
from webhook.core.compiled import Fragments, Json
from webhook.core.model import ClusterView, SecretInfo
from webhook.core.profiles import Connection
from webhook.core.rules import ops
from webhook.core.rules.base import UNCHANGED, Plan, Subject
from webhook.core.shapes import as_list, as_map, find, flag_value, is_map

K8S_PROVIDER: Final = "k8s"
"""``-secret_type`` / ``secretsProvider`` of Portworx's Kubernetes Secrets provider (the spec
generator's default)."""
FIELD_NAMESPACE: Final = "metadata.namespace"
"""The downward-API field that gives a container its pod's namespace."""
NO_ENV_ADDED: Final = "no env added"
"""How a warning says the webhook left the px-vault env out (Portworx reads the Secret itself)."""


@dataclass(frozen=True)
class SecretLookup:
    """Where Portworx reads the profile's px-vault for one object."""

    namespace: str
    """The namespace; empty when ``PX_SECRETS_NAMESPACE`` comes from a source the webhook cannot
    read (a ConfigMap, a Secret)."""
    add_env: bool
    """``PX_SECRETS_NAMESPACE`` must be added: the profile's ``secretNamespace`` is not where
    Portworx would look by default."""
    conflict: str | None = None
    """Why the object is left alone (the container and the profile disagree)."""


def _env_namespace(env: Any, namespace: str) -> str | None:
    """``PX_SECRETS_NAMESPACE`` as the container sets it: its value, ``namespace`` for a fieldRef
    to the pod's namespace, empty for any other source; None when it is not set."""
    for entry in as_list(env):
        if not is_map(entry) or entry.get("name") != c.PX_SECRETS_NAMESPACE_ENV:
            continue
        value = entry.get("value")
        if isinstance(value, str) and value.strip():
            return value.strip()
        source = as_map(as_map(entry.get("valueFrom")).get("fieldRef")).get("fieldPath")
        return namespace if source == FIELD_NAMESPACE else ""
    return None


def secrets_namespace(env: Any, default: str, namespace: str) -> str:
    """Where Portworx keeps and reads its Secrets: ``PX_SECRETS_NAMESPACE`` as the container
    sets it, else ``default``; empty when the webhook cannot read its source."""
    given = _env_namespace(env, namespace)
    return default if given is None else given


def secret_lookup(
    connection: Connection, env: Any, default: str, namespace: str
) -> SecretLookup | None:
    """Where Portworx reads the connection's Secret for an object in ``namespace`` whose
    Portworx container has ``env`` (``default``: Portworx's namespace when
    ``PX_SECRETS_NAMESPACE`` is unset); None when Portworx does not read it itself (it is not
    called px-vault: only env entries, in the pod's namespace, carry it)."""
    if connection.secret != c.DEFAULT_PX_SECRET:
        return None
    given = _env_namespace(env, namespace)
    wanted = connection.secret_namespace
    if given is None:
        return SecretLookup(wanted or default, wanted is not None and wanted != default)
    if wanted is not None and given != wanted:
        shown = given[:40] or "from a reference"
        problem = (
            f"container portworx sets {c.PX_SECRETS_NAMESPACE_ENV} {shown}, the profile's "
            f"px-vault is in {wanted}; {UNCHANGED}"
        )
        return SecretLookup(given, False, problem)
    return SecretLookup(given, False)


@dataclass(frozen=True)
class EnvPlan:
    """What env the Portworx container (or ``spec.env``) gets, and what to say about it."""

    wanted: tuple[Json, ...] | None
    """The entries to add where missing; None: the profile's env as compiled (the fast path)."""
    warnings: tuple[str, ...] = ()
    """Where Portworx reads its Secret, when that is not through env."""
    secret_namespace: str | None = None
    """Where the connection Secret must exist (the Secret warnings look there); None: the
    object's namespace; empty: nobody can tell."""
    conflict: str | None = None
    """Why the object is left alone."""


def _absent(cluster: ClusterView | None, namespace: str, secret: str) -> bool:
    """The caches know that ``secret`` does not exist in ``namespace``."""
    return cluster is not None and bool(namespace) and cluster.secret(namespace, secret) is None


def _optional_addr(env: Sequence[Json], secret: str) -> tuple[Json, ...]:
    """``env`` with its VAULT_ADDR ``secretKeyRef`` optional: never a required reference to a
    Secret the caches know is absent (the pod would not start; Portworx reads px-vault itself
    once it is created, and an optional reference resolves at the next start)."""
    return tuple(
        b.secret_env(e["name"], secret, e["name"], optional=True) if b.refers_to(e, secret) else e
        for e in env
    )


def env_plan(
    frags: Fragments,
    env: Any,
    default: str,
    subject: Subject,
    account: str,
) -> EnvPlan:
    """The env for a Portworx container (or a StorageCluster's ``spec.env``) whose current
    entries are ``env``; ``account`` is the service account Portworx runs as (for warnings)."""
    conn, namespace, cluster = frags.profile.connection, subject.namespace, subject.cluster
    lookup = secret_lookup(conn, env, default, namespace)
    if lookup is None:
        if conn.secret and _absent(cluster, namespace, conn.secret):
            return EnvPlan(_optional_addr(frags.env, conn.secret))
        return EnvPlan(None)
    if lookup.conflict is not None:
        return EnvPlan(None, conflict=lookup.conflict)
    secret = c.DEFAULT_PX_SECRET
    extra = (b.value_env(c.PX_SECRETS_NAMESPACE_ENV, lookup.namespace),) if lookup.add_env else ()
    if lookup.namespace == namespace:
        if _absent(cluster, namespace, secret):
            return EnvPlan((*_optional_addr(frags.env, secret), *extra))
        return EnvPlan((*frags.env, *extra) if extra else None)
    kept = frags.env_without_secret
    if not lookup.namespace:
        warning = (
            f"{c.PX_SECRETS_NAMESPACE_ENV} is a reference, so where Portworx reads px-vault is "
            f"unknown: {NO_ENV_ADDED}; set secretNamespace"
        )
        return EnvPlan((*kept, *extra), (warning,), "")
    warnings = [reads_itself(lookup.namespace, account)]
    defaulted = conn.secret_namespace is None and _env_namespace(env, namespace) is None
    if (
        defaulted
        and cluster is not None
        and isinstance(cluster.secret(namespace, secret), SecretInfo)
    ):
        warnings.append(
            f"{namespace}/{secret} is unused: Portworx reads {lookup.namespace}/{secret} (to use "
            f"it: connection.secretNamespace: {namespace})"
        )
    return EnvPlan((*kept, *extra), tuple(warnings), lookup.namespace)


def reads_itself(namespace: str, account: str) -> str:
    """The warning for a px-vault that Portworx reads itself in another namespace: which
    Secret, and the grant its service account needs there."""
    grant = (
        f"Portworx's {c.PX_SECRETS_ROLE}"
        if namespace == c.PX_DAEMONSET_SECRETS_NAMESPACE
        else f"a Role in {namespace}"
    )
    return (
        f"Portworx reads {namespace}/{c.DEFAULT_PX_SECRET} itself, {NO_ENV_ADDED}: "
        f"{account} needs get on it ({grant})"
    )


def portworx_container(subject: Subject) -> tuple[int, Any, str | None]:
    """The ``portworx`` container of a subject a Portworx rule matched: its index, the
    container, and its ``-secret_type`` (None when it names none)."""
    index = find(subject.spec.get("containers"), c.PORTWORX_CONTAINER)
    assert index is not None  # matched by the rule's `applies`
    container = subject.spec["containers"][index]
    return index, container, flag_value(as_list(as_map(container).get("args")), c.SECRET_TYPE_FLAG)


def wire_container(frags: Fragments, subject: Subject, default: str, *, tls: bool = True) -> Plan:
    """The plan for the ``portworx`` container of a DaemonSet or pod that selects no other
    provider: the env (Portworx's default px-vault namespace ``default``), ``-secret_type
    vault`` where it names none, and (``tls``) the TLS volume and mount."""
    spec, base = subject.spec, subject.base
    index, container, secret_type = portworx_container(subject)
    env = env_plan(
        frags, container.get("env"), default, subject, pod_account(spec, subject.namespace)
    )
    problem = env.conflict or (ops.tls_conflict(frags, spec, container) if tls else None)
    if problem:
        return ops.conflict(problem)
    cbase = patch.join(base, "containers", index)
    planned = ops.env_ops(frags, container, cbase, env.wanted)
    if secret_type is None:
        planned += ops.append(container, "args", cbase, [c.SECRET_TYPE_FLAG, c.SECRET_TYPE_VAULT])
    if tls:
        planned += ops.tls_ops(frags, spec, base, [(container, cbase)])
    return Plan(planned, list(env.warnings), secret_namespace=env.secret_namespace)


def pod_account(spec: Mapping[str, Any], namespace: str) -> str:
    """``<namespace>/<service account>`` of a pod spec (``default`` when it names none)."""
    name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    return f"{namespace}/{str(name)[:60]}"


def where_portworx_reads(
    obj: Mapping[str, Any], connection: Connection, namespace: str
) -> tuple[SecretLookup, str] | None:
    """For a Portworx DaemonSet, pod or StorageCluster as the API server holds it: where Portworx
    reads the connection's px-vault, and the service account that needs to read it there; None
    when Portworx does not read it itself, or the object has no portworx container."""
    kind = obj.get("kind")
    if kind == c.STORAGE_CLUSTER_KIND:
        spec = as_map(obj.get("spec"))
        account = f"{namespace}/{c.PX_OPERATOR_SERVICE_ACCOUNT}"
        found = secret_lookup(connection, spec.get("env"), namespace, namespace)
    else:
        spec = as_map(obj.get("spec"))
        if kind != "Pod":
            spec = as_map(as_map(spec.get("template")).get("spec"))
        index = find(spec.get("containers"), c.PORTWORX_CONTAINER)
        if index is None:
            return None
        env = as_map(spec["containers"][index]).get("env")
        found = secret_lookup(connection, env, c.PX_DAEMONSET_SECRETS_NAMESPACE, namespace)
        account = pod_account(spec, namespace)
    return None if found is None else (found, account)


def switch_refused(what: str, provider: str, namespace: str) -> list[str]:
    """The warnings for a Portworx object that selects another secrets provider: nothing is
    changed, what is stored where today, and what to do next (``namespace``: where Portworx
    keeps its Kubernetes Secrets)."""
    shown = provider[:40] or "''"
    where = (
        f"are Kubernetes Secrets in {namespace or 'its namespace'} ({c.PX_CLUSTER_KEY_SECRET}, "
        "one per volume)"
        if provider == K8S_PROVIDER
        else f"are with its {shown} provider"
    )
    return [
        f"{what} {shown}; Vault settings not added",
        f"its volume keys so far {where}",
        "Portworx documents no move of stored keys to Vault: switch by hand only a cluster "
        "without encrypted volumes",
        f'or keep {shown} and silence this: annotate {c.ANNOTATION_INJECT}: "{c.INJECT_FALSE}"',
    ]
