"""The Pods `webhook.core.controllers` makes of a DaemonSet and a StorageCluster, field by field.

They stand for what the DaemonSet controller and the Portworx operator send the API server in
pods-only mode, so every field the controllers set is pinned here against what their code does
(kubernetes pkg/controller/daemon; libopenstorage/operator deployment.go and storagecluster.go),
and the pods are valid Pods.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.unit.webhook.support import validate
from webhook.core import controllers

DAEMONSET: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {
        "name": "portworx",
        "namespace": "kube-system",
        "uid": "9a1f0c55-8d4e-4b3a-9e2f-0d6c1b7a4e21",
        "generation": 3,
        "annotations": {"vault-storage-injector.io/profile": "px"},
    },
    "spec": {
        "selector": {"matchLabels": {"name": "portworx"}},
        "template": {
            "metadata": {
                "labels": {"name": "portworx"},
                "annotations": {"vault-storage-injector.io/inject": "true"},
            },
            "spec": {
                "hostNetwork": True,
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "px/enabled",
                                            "operator": "NotIn",
                                            "values": ["false"],
                                        }
                                    ]
                                }
                            ]
                        },
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "weight": 1,
                                "preference": {
                                    "matchExpressions": [{"key": "ssd", "operator": "Exists"}]
                                },
                            }
                        ],
                    }
                },
                "tolerations": [
                    {
                        "key": "node.kubernetes.io/not-ready",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 30,
                    }
                ],
                "containers": [{"name": "portworx", "image": "portworx/oci-monitor:3.2.0"}],
            },
        },
    },
}


def test_a_daemonset_pod_is_what_the_daemonset_controller_creates() -> None:
    pod = controllers.daemonset_pod(DAEMONSET, node="worker-3")
    meta = pod["metadata"]
    assert "name" not in meta  # named by the API server after admission
    assert meta["generateName"] == "portworx-"
    assert meta["namespace"] == "kube-system"
    assert meta["labels"] == {
        "name": "portworx",
        "controller-revision-hash": controllers.REVISION_HASH,
        "pod-template-generation": "3",
    }
    # The template's annotations, not the DaemonSet's own.
    assert meta["annotations"] == {"vault-storage-injector.io/inject": "true"}
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "name": "portworx",
            "uid": "9a1f0c55-8d4e-4b3a-9e2f-0d6c1b7a4e21",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    validate(pod)


def test_the_node_replaces_the_required_node_terms_and_keeps_the_preferred_ones() -> None:
    affinity = controllers.daemonset_pod(DAEMONSET, node="worker-3")["spec"]["affinity"]
    node = affinity["nodeAffinity"]
    assert node["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["worker-3"]}]}
        ]
    }
    template_node = DAEMONSET["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    preferred = "preferredDuringSchedulingIgnoredDuringExecution"
    assert node[preferred] == template_node[preferred]


def test_every_daemon_pod_gets_the_controllers_tolerations_once() -> None:
    tolerations = controllers.daemonset_pod(DAEMONSET)["spec"]["tolerations"]
    keys = [(t["key"], t["effect"]) for t in tolerations]
    wanted = [*controllers.DAEMON_TOLERATIONS, controllers.HOST_NETWORK_TOLERATION]
    assert sorted(keys) == sorted(wanted)  # the template's not-ready one is kept, not doubled
    assert tolerations[0]["tolerationSeconds"] == 30
    off_host = copy.deepcopy(DAEMONSET)
    off_host["spec"]["template"]["spec"]["hostNetwork"] = False
    keys = [t["key"] for t in controllers.daemonset_pod(off_host)["spec"]["tolerations"]]
    assert controllers.HOST_NETWORK_TOLERATION[0] not in keys


def test_the_template_is_copied_not_shared() -> None:
    pod = controllers.daemonset_pod(DAEMONSET)
    pod["spec"]["containers"][0]["env"] = [{"name": "X", "value": "1"}]
    assert "env" not in DAEMONSET["spec"]["template"]["spec"]["containers"][0]


CLUSTER: dict[str, Any] = {
    "apiVersion": "core.libopenstorage.org/v1",
    "kind": "StorageCluster",
    "metadata": {
        "name": "px-cluster",
        "namespace": "portworx",
        "uid": "5d0b6f0e-1c2a-4f7e-8b0d-3e9a2c4b6d10",
    },
    "spec": {
        "image": "portworx/oci-monitor:3.2.0",
        "secretsProvider": "vault",
        "env": [
            {"name": "PX_SECRETS_NAMESPACE", "value": "px-secrets"},
            {
                "name": "VAULT_ADDR",
                "valueFrom": {"secretKeyRef": {"name": "px-vault", "key": "VAULT_ADDR"}},
            },
        ],
        "volumes": [
            {
                "name": "vsi-vault-tls",
                "mountPath": "/etc/vault-storage-injector/tls",
                "readOnly": True,
                "projected": {"sources": [{"secret": {"name": "vault-tls"}}]},
            }
        ],
    },
}


def test_an_operator_pod_carries_what_the_operator_renders_from_the_storage_cluster() -> None:
    pod = controllers.operator_pod(CLUSTER, node="worker-1")
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["generateName"] == "px-cluster-"
    assert meta["labels"]["operator.libopenstorage.org/managed-by"] == "portworx"
    assert meta["labels"]["operator.libopenstorage.org/name"] == "px-cluster"
    assert meta["ownerReferences"][0]["kind"] == "StorageCluster"
    assert meta["ownerReferences"][0]["apiVersion"] == "core.libopenstorage.org/v1"
    assert meta["ownerReferences"][0]["controller"] is True
    assert spec["nodeName"] == "worker-1"
    (container,) = spec["containers"]
    assert container["args"][-2:] == ["-secret_type", "vault"]
    env = {e["name"]: e for e in container["env"]}
    # spec.env overrides the operator's own entry of the same name, and adds the others.
    assert env["PX_SECRETS_NAMESPACE"] == {"name": "PX_SECRETS_NAMESPACE", "value": "px-secrets"}
    assert env["PX_NAMESPACE"] == {"name": "PX_NAMESPACE", "value": "portworx"}
    assert env["VAULT_ADDR"] == CLUSTER["spec"]["env"][1]
    assert spec["volumes"] == [
        {
            "name": "user-vsi-vault-tls",
            "projected": {"sources": [{"secret": {"name": "vault-tls"}}]},
        }
    ]
    assert container["volumeMounts"] == [
        {
            "name": "user-vsi-vault-tls",
            "mountPath": "/etc/vault-storage-injector/tls",
            "readOnly": True,
        }
    ]
    validate(pod)


def test_a_storage_cluster_without_a_provider_gets_the_operators_default() -> None:
    bare = copy.deepcopy(CLUSTER)
    del bare["spec"]["secretsProvider"], bare["spec"]["volumes"]
    pod = controllers.operator_pod(bare)
    assert pod["spec"]["containers"][0]["args"][-2:] == ["-secret_type", "k8s"]
    assert "volumes" not in pod["spec"]
    validate(pod)
