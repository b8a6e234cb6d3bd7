"""Portworx objects in the shapes admins have them, written for these tests.

Each builder follows a real source's shape (shared/reference/real-world/SOURCES.md names them),
without copying it: the spec generator's DaemonSet (``install.portworx.com``: ``kube-system``,
``px-account``, ``-secret_type k8s`` by default), the Helm chart's DaemonSet (portworx/helm
``portworx-daemonSet``, ``secretType=vault``) and StorageCluster (``charts/portworx``, namespace
``portworx``), and a pod the Portworx operator renders from a StorageCluster
(libopenstorage/operator deployment.go: its labels, its owner, ``spec.env`` in the container,
``secretsProvider`` as ``-secret_type``, ``spec.volumes`` as ``user-<name>``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from webhook.core import constants as c

Json = dict[str, Any]

_HOST_PATHS = (
    ("diagsdump", "/var/cores"),
    ("dockersock", "/var/run/docker.sock"),
    ("etcpwx", "/etc/pwx"),
    ("optpwx", "/opt/pwx"),
    ("procmount", "/proc"),
)


def _portworx_container(args: Sequence[str], env: Sequence[Json]) -> Json:
    mounts = [
        {"name": name, "mountPath": "/host_proc" if name == "procmount" else path}
        for name, path in _HOST_PATHS
    ]
    return {
        "name": c.PORTWORX_CONTAINER,
        "image": "portworx/oci-monitor:3.1.6",
        "imagePullPolicy": "Always",
        "args": list(args),
        "env": [{"name": "PX_TEMPLATE_VERSION", "value": "v4"}, *env],
        "livenessProbe": {
            "periodSeconds": 30,
            "initialDelaySeconds": 840,
            "httpGet": {"host": "127.0.0.1", "path": "/status", "port": 9001},
        },
        "securityContext": {"privileged": True},
        "volumeMounts": mounts,
    }


def _volumes() -> list[Json]:
    return [{"name": name, "hostPath": {"path": path}} for name, path in _HOST_PATHS]


def spec_generator_daemonset(
    *,
    secret_type: str | None = "k8s",  # noqa: S107 (a secrets provider, not a secret)
    namespace: str = "kube-system",
    env: Sequence[Json] = (),
) -> Json:
    """The spec generator's ``portworx`` DaemonSet; ``secret_type`` None: no ``-secret_type``."""
    args = ["-c", "px-cluster-0f1e2d3c", "-s", "/dev/sdb", "-x", "kubernetes"]
    if secret_type is not None:
        args[4:4] = ["-secret_type", secret_type]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "portworx",
            "namespace": namespace,
            "annotations": {"portworx.com/install-source": "https://install.portworx.com/?st=k8s"},
        },
        "spec": {
            "selector": {"matchLabels": {"name": "portworx"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"name": "portworx"}},
                "spec": {
                    "hostNetwork": True,
                    "containers": [_portworx_container(args, env)],
                    "restartPolicy": "Always",
                    "serviceAccountName": "px-account",
                    "volumes": _volumes(),
                },
            },
        },
    }


def helm_daemonset() -> Json:
    """The Helm chart's DaemonSet rendered with ``secretType=vault`` (release ``px``)."""
    obj = spec_generator_daemonset(secret_type="vault")
    obj["metadata"]["labels"] = {"name": "portworx"}
    obj["metadata"]["annotations"] = {"portworx.com/install-source": "helm/Helm-r1"}
    template = obj["spec"]["template"]
    template["metadata"]["labels"] = {
        "app": "portworx",
        "name": "portworx",
        "heritage": "Helm",
        "release": "px",
    }
    container = template["spec"]["containers"][0]
    container["args"] = ["-a", "-k", "etcd:http://etcd.example.com:2379", "-c", "px-demo"]
    container["args"] += ["-secret_type", "vault", "-x", "kubernetes"]
    return obj


def helm_storage_cluster(provider: str | None = "vault", env: Sequence[Json] = ()) -> Json:
    """The Helm chart's StorageCluster in ``portworx`` (``secretType=vault``; ``k8s`` is its
    default); ``provider`` None: no ``secretsProvider``."""
    spec: Json = {
        "image": "portworx/oci-monitor:3.6.1",
        "imagePullPolicy": "Always",
        "kvdb": {"internal": True},
        "storage": {"useAll": True},
        "stork": {"enabled": True},
        "csi": {"enabled": True},
    }
    if provider is not None:
        spec["secretsProvider"] = provider
    if env:
        spec["env"] = list(env)
    return {
        "apiVersion": f"{c.STORAGE_CLUSTER_GROUP}/v1",
        "kind": c.STORAGE_CLUSTER_KIND,
        "metadata": {
            "name": "px-cluster",
            "namespace": "portworx",
            "labels": {"app.kubernetes.io/managed-by": "Helm", "release": "px"},
        },
        "spec": spec,
    }


def operator_pod(
    storage_cluster: Json,
    *,
    labels: bool = True,
    owner: bool = True,
) -> Json:
    """The pod the operator renders from ``storage_cluster`` (after the webhook's mutation, or
    not): its labels and controller owner, ``spec.env`` after the operator's own env,
    ``-secret_type <secretsProvider>``, ``spec.volumes`` as ``user-<name>`` with their mounts."""
    spec = storage_cluster.get("spec") or {}
    namespace = storage_cluster["metadata"]["namespace"]
    name = storage_cluster["metadata"]["name"]
    env = [
        {"name": "PX_NAMESPACE", "value": namespace},
        {"name": c.PX_SECRETS_NAMESPACE_ENV, "value": namespace},
    ]
    names = {e["name"] for e in spec.get("env", [])}
    env = [e for e in env if e["name"] not in names] + copy.deepcopy(spec.get("env", []))
    args = ["-c", name, "-x", "kubernetes"]
    if spec.get("secretsProvider"):
        args += ["-secret_type", spec["secretsProvider"]]
    container = _portworx_container(args, env)
    volumes = _volumes()
    for vol in spec.get("volumes", []):
        user = f"{c.PX_OPERATOR_VOLUME_PREFIX}{vol['name']}"
        source = {k: v for k, v in vol.items() if k not in ("name", "mountPath", "readOnly")}
        volumes.append({"name": user, **copy.deepcopy(source)})
        mount = {"name": user, "mountPath": vol["mountPath"]}
        if vol.get("readOnly"):
            mount["readOnly"] = True
        container["volumeMounts"].append(mount)
    metadata: Json = {"name": f"{name}-8kq2z", "namespace": namespace}
    if labels:
        metadata["labels"] = {
            c.PX_OPERATOR_LABEL_MANAGED_BY: c.PX_OPERATOR_MANAGED_BY,
            c.PX_OPERATOR_LABEL_CLUSTER: name,
            "operator.libopenstorage.org/driver": "portworx",
            "name": "portworx",
        }
    if owner:
        metadata["ownerReferences"] = [
            {
                "apiVersion": f"{c.STORAGE_CLUSTER_GROUP}/v1",
                "kind": c.STORAGE_CLUSTER_KIND,
                "name": name,
                "uid": "7d1c5e2a-4b3f-4e8d-9a6b-0c2d1e3f4a5b",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "hostNetwork": True,
            "containers": [container],
            "serviceAccountName": c.PX_OPERATOR_SERVICE_ACCOUNT,
            "volumes": volumes,
        },
    }
