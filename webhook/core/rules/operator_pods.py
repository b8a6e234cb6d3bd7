"""The pods of the Portworx operator, for the ``portworx-operator`` rule: what its StorageCluster
path gives them, added at the pod's creation where the StorageCluster did not carry it.

The operator renders each Portworx pod from its StorageCluster (libopenstorage/operator,
drivers/storage/portworx/deployment.go): ``spec.env`` into the ``portworx`` container's env
(over the operator's own entries of the same name), ``spec.secretsProvider`` as
``-secret_type``, and each ``spec.volumes`` entry as a pod volume named ``user-<name>`` with its
mount in that container. It labels the pod ``operator.libopenstorage.org/managed-by: portworx``
and makes the StorageCluster its controller owner.

When the webhook mutated the StorageCluster (the default), the pod arrives with everything
already there: our env entries by name, ``-secret_type vault``, and our TLS volume as the
operator renamed it. `plan` then leaves it to its StorageCluster (``operator-managed``, silently).
In pods-only mode the StorageCluster is as git holds it, so its pods carry none of our env, and
`plan` adds exactly what the StorageCluster path would have made the operator render: the
profile's env, ``-secret_type vault`` where the pod names no provider, and the TLS volume and
mount (under our own volume name). A pod whose ``-secret_type`` is another provider is left
alone with a warning (``operator-managed``): the operator defaults ``secretsProvider`` to ``k8s``
(`webhook.core.controllers.OPERATOR_DEFAULT_PROVIDER`), so in pods-only mode the StorageCluster in
git must say ``secretsProvider: vault`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from webhook.core import constants as c
from webhook.core.compiled import Fragments
from webhook.core.controllers import USER_VOLUME_PREFIX
from webhook.core.profiles import Config
from webhook.core.rules import ops, px
from webhook.core.rules.base import Plan, Subject
from webhook.core.shapes import as_list, as_map, find, flag_value, is_map

RENDERED_TLS_VOLUME: Final = USER_VOLUME_PREFIX + c.TLS_VOLUME_NAME
"""Our StorageCluster TLS volume as the operator renders it into its pods."""


def storage_cluster_of(obj: Mapping[str, Any]) -> str | None:
    """The StorageCluster that made this pod: its controller owner's name; ``?`` for a pod
    with no controller owner but the operator's label; None for any other pod (one a DaemonSet
    owns is the DaemonSet's, whatever labels its template copied)."""
    meta = as_map(obj.get("metadata"))
    for owner in as_list(meta.get("ownerReferences")):
        owner = as_map(owner)
        if owner.get("controller") is not True:
            continue
        api = owner.get("apiVersion")
        if (
            owner.get("kind") == c.STORAGE_CLUSTER_KIND
            and isinstance(api, str)
            and api.startswith(c.STORAGE_CLUSTER_GROUP + "/")
        ):
            return str(owner.get("name") or "?")[:60]
        return None
    if as_map(meta.get("labels")).get(c.PX_OPERATOR_LABEL_MANAGED_BY) == c.PX_OPERATOR_MANAGED_BY:
        return "?"
    return None


def applies(subject: Subject) -> bool | None:
    """A Pod of the Portworx operator with a ``portworx`` container; on CREATE only."""
    if subject.kind != "Pod" or storage_cluster_of(subject.obj) is None:
        return None
    if find(subject.spec.get("containers"), c.PORTWORX_CONTAINER) is None:
        return None
    return subject.creating


def plan(frags: Fragments, subject: Subject, config: Config) -> Plan:
    """What the StorageCluster path would have given the pod, where it does not have it yet.

    ``operator-managed`` (nothing changed) for a pod its StorageCluster wired (`wired`: silently)
    or set to another provider (with a warning naming the StorageCluster: the fix is there);
    ``already-injected`` for a pod this rule wired at its creation (a re-apply)."""
    _, container, secret_type = px.portworx_container(subject)
    if secret_type is not None and secret_type != c.SECRET_TYPE_VAULT:
        cluster = storage_cluster_of(subject.obj)
        warning = (
            f"{c.SECRET_TYPE_FLAG} {secret_type[:40]} from StorageCluster {cluster}: it needs "
            "secretsProvider: vault; Vault settings not added"
        )
        return Plan([], [warning], c.SKIP_OPERATOR_MANAGED)
    if wired(frags, container) and c.ANNOTATION_STATUS not in subject.annotations:
        return Plan([], [], c.SKIP_OPERATOR_MANAGED)
    rendered = tls_rendered(frags, subject.spec, container)
    return px.wire_container(frags, subject, subject.namespace, tls=not rendered)


def wired(frags: Fragments, container: Any) -> bool:
    """Whether the operator rendered the pod from a StorageCluster that carried Vault settings:
    ``-secret_type vault`` and at least one env entry of the profile's (the webhook mutated the
    StorageCluster, perhaps in an earlier version with fewer entries; its pods are the
    StorageCluster's, and the StorageCluster path tops it up at its next update)."""
    args = as_list(as_map(container).get("args"))
    if flag_value(args, c.SECRET_TYPE_FLAG) != c.SECRET_TYPE_VAULT:
        return False
    names = {e.get("name") for e in as_list(as_map(container).get("env")) if is_map(e)}
    return any(e["name"] in names for e in frags.env)


def tls_rendered(frags: Fragments, spec: Mapping[str, Any], container: Any) -> bool:
    """Whether the operator already rendered our StorageCluster TLS volume into the pod: a
    `RENDERED_TLS_VOLUME` projecting the profile's TLS Secrets, mounted at our path by the
    ``portworx`` container (the StorageCluster carried the mutation)."""
    source = frags.profile.connection.tls
    if source is None or frags.tls_volume is None:
        return False
    index = find(spec.get("volumes"), RENDERED_TLS_VOLUME)
    if index is None or not ops.is_tls_projection(spec["volumes"][index], source.secret_names):
        return False
    return any(
        as_map(m).get("name") == RENDERED_TLS_VOLUME
        and as_map(m).get("mountPath") == c.TLS_MOUNT_PATH
        for m in as_list(as_map(container).get("volumeMounts"))
    )
