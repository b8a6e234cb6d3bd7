"""The Pods the DaemonSet controller and the Portworx operator create, as the webhook sees them.

In pods-only mode the webhook configuration sends neither the DaemonSet nor the StorageCluster:
what it mutates is each Pod their controllers create. The offline preview
(``vsi-webhook mutate --pods-only``) and the doctor judge those Pods, made here from the
workload the way each controller makes them:

- the DaemonSet controller (kubernetes pkg/controller/daemon): the pod template's metadata and
  spec (the DaemonSet's own annotations do not reach its pods), ``generateName:
  <daemonset>-`` (the webhook sees no name: the API server names the pod after admission), the
  ``controller-revision-hash`` and ``pod-template-generation`` labels, the DaemonSet as
  controller owner, the node as the only required node-affinity term (``matchFields
  metadata.name``), and the tolerations every daemon pod gets;
- the Portworx operator (libopenstorage/operator drivers/storage/portworx/deployment.go and
  pkg/controller/storagecluster): the parts of its pod the webhook reads. Its labels and owner,
  the annotations of ``spec.metadata.annotations["pod/storage"]``, and a ``portworx``
  container whose env is the operator's own entries overlaid with ``spec.env``, whose args
  carry ``-secret_type`` from ``spec.secretsProvider`` (``k8s``, the operator's default, when
  the StorageCluster names none), and which mounts each ``spec.volumes`` entry as the pod
  volume ``user-<name>``. The operator's host volumes, probes and other containers are left
  out: the webhook neither reads nor changes them.

Pure: the same objects in, the same pods out (a fixed node name and revision hash).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from webhook.core import constants as c
from webhook.core.shapes import as_list, as_map

Json = dict[str, Any]

NODE: Final = "node-1"
"""The node a previewed pod is placed on (any node: the mutation does not depend on it)."""
REVISION_HASH: Final = "6d4f8b9c7"
"""The ``controller-revision-hash`` label of a previewed pod (the controllers compute theirs
from the template; the mutation does not read it)."""
REVISION_LABEL: Final = "controller-revision-hash"
"""The label both controllers put on their pods (the ControllerRevision they come from)."""
GENERATION_LABEL: Final = "pod-template-generation"
"""The DaemonSet controller's label: the DaemonSet's ``metadata.generation``."""
DAEMON_TOLERATIONS: Final = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
"""(key, effect) of the ``Exists`` tolerations the DaemonSet controller adds to every pod."""
HOST_NETWORK_TOLERATION: Final = ("node.kubernetes.io/network-unavailable", "NoSchedule")
"""The toleration it adds as well to a pod on the host network."""
USER_VOLUME_PREFIX: Final = "user-"
"""Prefix the operator gives a StorageCluster ``spec.volumes`` entry as a pod volume."""
OPERATOR_LABELS: Final = (
    ("name", "portworx"),
    ("operator.libopenstorage.org/driver", "portworx"),
    (c.PX_OPERATOR_LABEL_MANAGED_BY, c.PX_OPERATOR_MANAGED_BY),
)
"""Labels the Portworx operator puts on each Portworx pod (besides its cluster's name)."""
OPERATOR_CLUSTER_LABEL: Final = "operator.libopenstorage.org/name"
"""The operator's label naming the StorageCluster of a pod."""
OPERATOR_NODE_LABEL: Final = "operator.libopenstorage.org/node-name"
"""The operator's label naming the node of a pod."""
POD_ANNOTATIONS: Final = "pod/storage"
"""The key of ``spec.metadata.annotations`` whose map the operator puts on its Portworx pods
(the only way a StorageCluster gives its pods an annotation, ours included)."""
OPERATOR_ACCOUNT: Final = "portworx"
"""The service account the operator runs Portworx as."""
OPERATOR_DEFAULT_PROVIDER: Final = "k8s"
"""The ``secretsProvider`` the operator writes into a StorageCluster that sets none."""
OPERATOR_DEFAULT_IMAGE: Final = "portworx/oci-monitor"
"""The image of a previewed operator pod whose StorageCluster names none."""


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_map(obj.get("metadata"))


def _owner(obj: Mapping[str, Any], api_version: str, kind: str) -> Json:
    meta = _meta(obj)
    owner: Json = {"apiVersion": api_version, "kind": kind, "name": str(meta.get("name") or "")}
    owner["uid"] = str(meta.get("uid") or "00000000-0000-0000-0000-000000000000")
    owner["controller"] = True
    owner["blockOwnerDeletion"] = True
    return owner


def daemonset_pod(daemonset: Mapping[str, Any], node: str = NODE) -> Json:
    """The Pod the DaemonSet controller creates from ``daemonset`` on ``node``."""
    meta = _meta(daemonset)
    template = as_map(as_map(daemonset.get("spec")).get("template"))
    template_meta = as_map(template.get("metadata"))
    labels = dict(as_map(template_meta.get("labels")))
    labels[REVISION_LABEL] = REVISION_HASH
    labels[GENERATION_LABEL] = str(meta.get("generation") or 1)
    pod_meta: Json = {
        "generateName": f"{meta.get('name') or 'daemonset'}-",
        "namespace": str(meta.get("namespace") or ""),
        "labels": labels,
    }
    if template_meta.get("annotations"):
        pod_meta["annotations"] = dict(as_map(template_meta.get("annotations")))
    pod_meta["ownerReferences"] = [_owner(daemonset, "apps/v1", "DaemonSet")]
    spec: Json = copy.deepcopy(dict(as_map(template.get("spec"))))
    spec["affinity"] = _node_affinity(as_map(spec.get("affinity")), node)
    spec["tolerations"] = _daemon_tolerations(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def _node_affinity(affinity: Mapping[str, Any], node: str) -> Json:
    """The pod's affinity with its required node terms replaced by the one node, as the
    controller does (its preferred terms and pod (anti-)affinity are kept)."""
    out: Json = copy.deepcopy(dict(affinity))
    node_affinity: Json = dict(as_map(out.get("nodeAffinity")))
    field = {"key": "metadata.name", "operator": "In", "values": [node]}
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [{"matchFields": [field]}]
    }
    out["nodeAffinity"] = node_affinity
    return out


def _daemon_tolerations(spec: Mapping[str, Any]) -> list[Any]:
    tolerations = list(copy.deepcopy(as_list(spec.get("tolerations"))))
    wanted = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork") is True:
        wanted.append(HOST_NETWORK_TOLERATION)
    for key, effect in wanted:
        if not any(
            as_map(t).get("key") == key and as_map(t).get("effect") == effect for t in tolerations
        ):
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
    return tolerations


def operator_pod(cluster: Mapping[str, Any], node: str = NODE) -> Json:
    """The parts the webhook reads of the Pod the Portworx operator creates from the
    StorageCluster ``cluster`` on ``node`` (see the module docstring)."""
    meta, spec = _meta(cluster), as_map(cluster.get("spec"))
    name, namespace = str(meta.get("name") or "px-cluster"), str(meta.get("namespace") or "")
    labels = dict(OPERATOR_LABELS)
    labels[OPERATOR_CLUSTER_LABEL] = name
    labels[OPERATOR_NODE_LABEL] = node
    labels[REVISION_LABEL] = REVISION_HASH
    owner = _owner(cluster, f"{c.STORAGE_CLUSTER_GROUP}/v1", c.STORAGE_CLUSTER_KIND)
    provider = spec.get("secretsProvider") or OPERATOR_DEFAULT_PROVIDER
    container: Json = {
        "name": c.PORTWORX_CONTAINER,
        "image": str(spec.get("image") or OPERATOR_DEFAULT_IMAGE),
        "args": ["-c", name, "-x", "kubernetes", c.SECRET_TYPE_FLAG, str(provider)],
        "env": _operator_env(namespace, spec.get("env")),
    }
    volumes, mounts = _user_volumes(spec.get("volumes"))
    if mounts:
        container["volumeMounts"] = mounts
    pod_spec: Json = {
        "hostNetwork": True,
        "restartPolicy": "Always",
        "serviceAccountName": OPERATOR_ACCOUNT,
        "nodeName": node,
        "containers": [container],
    }
    if volumes:
        pod_spec["volumes"] = volumes
    pod_meta: Json = {
        "generateName": f"{name}-",
        "namespace": namespace,
        "labels": labels,
        "ownerReferences": [owner],
    }
    annotations = as_map(
        as_map(as_map(spec.get("metadata")).get("annotations")).get(POD_ANNOTATIONS)
    )
    if annotations:
        pod_meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec}


def _operator_env(namespace: str, spec_env: Any) -> list[Any]:
    """The operator's own env of the portworx container, each entry replaced by a ``spec.env``
    entry of the same name, then the other ``spec.env`` entries (the operator keeps them in a
    map, so their order in a real pod is not fixed; the webhook goes by name)."""
    node_name = {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}
    entries: dict[str, Any] = {
        "PX_NAMESPACE": {"name": "PX_NAMESPACE", "value": namespace},
        "PX_SECRETS_NAMESPACE": {"name": "PX_SECRETS_NAMESPACE", "value": namespace},
        "NODE_NAME": {"name": "NODE_NAME", "valueFrom": node_name},
        "PX_TEMPLATE_VERSION": {"name": "PX_TEMPLATE_VERSION", "value": "v4"},
    }
    for entry in as_list(spec_env):
        entry_name = as_map(entry).get("name")
        if isinstance(entry_name, str) and entry_name:
            entries[entry_name] = copy.deepcopy(entry)
    return list(entries.values())


def _user_volumes(spec_volumes: Any) -> tuple[list[Json], list[Json]]:
    """``spec.volumes`` as the operator renders them: pod volumes named ``user-<name>`` with
    the entry's source, and the portworx container's mounts of them."""
    volumes: list[Json] = []
    mounts: list[Json] = []
    for entry in as_list(spec_volumes):
        entry = as_map(entry)
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            continue
        user = USER_VOLUME_PREFIX + name
        source = {k: copy.deepcopy(v) for k, v in entry.items() if k not in _MOUNT_FIELDS}
        volumes.append({**source, "name": user})
        mount: Json = {"name": user, "mountPath": entry.get("mountPath")}
        for field in ("readOnly", "mountPropagation"):
            if field in entry:
                mount[field] = entry[field]
        mounts.append(mount)
    return volumes, mounts


_MOUNT_FIELDS: Final = frozenset({"name", "mountPath", "readOnly", "mountPropagation"})
"""Fields of a StorageCluster ``spec.volumes`` entry that are not its volume source."""


TEMPLATE_KINDS: Final = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
"""Workloads whose Pods come from a pod template: the webhook mutates those Pods."""


def template_pod(workload: Mapping[str, Any]) -> Json | None:
    """A Pod as the controller of ``workload`` creates it from its pod template (None: no
    template). Only what the webhook reads is set: metadata from the template, the spec."""
    spec = as_map(workload.get("spec"))
    if workload.get("kind") == "CronJob":
        spec = as_map(as_map(spec.get("jobTemplate")).get("spec"))
    template = spec.get("template")
    if not isinstance(template, Mapping):
        return None
    meta = _meta(workload)
    template_meta = as_map(template.get("metadata"))
    pod_meta: Json = {
        "generateName": f"{meta.get('name') or 'workload'}-",
        "namespace": str(meta.get("namespace") or ""),
    }
    for key in ("labels", "annotations"):
        if template_meta.get(key):
            pod_meta[key] = dict(as_map(template_meta.get(key)))
    pod_spec: Json = copy.deepcopy(dict(as_map(template.get("spec"))))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec}
