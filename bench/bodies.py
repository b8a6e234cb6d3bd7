"""AdmissionReview bodies the benchmark sends, shaped as the kube-apiserver sends them.

Two realistic reviews (a Portworx DaemonSet, about 3 KB, and a Rook OSD pod on a PVC, about 9 KB)
for the HTTP load, and generated pods of growing size for the scaling measurement. Objects carry
what the apiserver has filled in before webhooks run (defaults, managedFields, the service-account
token volume, default tolerations) and nothing it fills in later (uid, creationTimestamp).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

Json = dict[str, Any]

CEPH_IMAGE: Final = "quay.io/ceph/ceph:v18.2.4"
ROOK_PVC: Final = "set1-data-0-abcde"
ROOK_NAMESPACE: Final = "rook-ceph"
PX_NAMESPACE: Final = "portworx"
SCALING_NAMESPACE: Final = "bench"
"""Namespace of the generated scaling pods (the benchmark treats it as opted in)."""

_DEFAULTS: Final[Json] = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "imagePullPolicy": "IfNotPresent",
}


def review(
    obj: Json,
    *,
    uid: str,
    group: str,
    kind: str,
    resource: str,
    namespace: str,
    name: str,
    username: str,
) -> Json:
    """An AdmissionReview v1 request for CREATE of ``obj``, as the kube-apiserver sends it."""
    gvk = {"group": group, "version": "v1", "kind": kind}
    gvr = {"group": group, "version": "v1", "resource": resource}
    request: Json = {
        "uid": uid,
        "kind": gvk,
        "resource": gvr,
        "requestKind": dict(gvk),
        "requestResource": dict(gvr),
        "namespace": namespace,
        "operation": "CREATE",
        "userInfo": {
            "username": username,
            "uid": "0f4f2b51-6c4b-4f43-9a63-3a4c2b8d0e11",
            "groups": ["system:serviceaccounts", "system:authenticated"],
        },
        "object": obj,
        "oldObject": None,
        "dryRun": False,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    }
    if name:
        request["name"] = name
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def dumps(value: Json) -> bytes:
    """Compact JSON, as the apiserver serialises the review."""
    return orjson.dumps(value)


def _container(name: str, image: str, **fields: Any) -> Json:
    return {"name": name, "image": image, **fields, **_DEFAULTS}


def _mount(name: str, path: str, read_only: bool = False) -> Json:
    out: Json = {"name": name, "mountPath": path}
    if read_only:
        out["readOnly"] = True
    return out


def _host_path(name: str, path: str, kind: str = "") -> Json:
    return {"name": name, "hostPath": {"path": path, "type": kind}}


def _token_volume(suffix: str) -> Json:
    """The projected service-account token volume the ServiceAccount admission plugin adds."""
    return {
        "name": f"kube-api-access-{suffix}",
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
            "defaultMode": 420,
        },
    }


def _managed_fields(manager: str, api_version: str) -> list[Json]:
    return [
        {
            "manager": manager,
            "operation": "Update",
            "apiVersion": api_version,
            "time": "2024-05-14T09:21:07Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}, "f:spec": {}},
        }
    ]


# --- Portworx DaemonSet (about 3 KB) -----------------------------------------------------------


def portworx_daemonset() -> Json:
    """Portworx DaemonSet of a spec-generator install (no operator) in an opted-in namespace."""
    px = _container(
        "portworx",
        "portworx/oci-monitor:3.1.2",
        args=["-c", "px-cluster-4f1a", "-x", "kubernetes", "-a", "-b", "-j", "auto"],
        env=[
            {"name": "PX_TEMPLATE_VERSION", "value": "v4"},
            {"name": "PX_SECRETS_NAMESPACE", "value": PX_NAMESPACE},
            {"name": "AUTO_NODE_RECOVERY_TIMEOUT_IN_SECS", "value": "1500"},
        ],
        livenessProbe={
            "httpGet": {"path": "/status", "port": 9001, "host": "127.0.0.1", "scheme": "HTTP"},
            "initialDelaySeconds": 840,
            "periodSeconds": 30,
        },
        readinessProbe={
            "httpGet": {"path": "/health", "port": 9015, "host": "127.0.0.1", "scheme": "HTTP"},
            "periodSeconds": 10,
        },
        securityContext={"privileged": True},
        volumeMounts=[
            _mount("diagsdump", "/var/cores"),
            _mount("dockersock", "/var/run/docker.sock"),
            _mount("containerdsock", "/run/containerd"),
            _mount("etcpwx", "/etc/pwx"),
            _mount("optpwx", "/opt/pwx"),
            _mount("procmount", "/host_proc"),
            _mount("sysdmount", "/etc/systemd/system"),
            _mount("journalmount1", "/var/run/log", read_only=True),
            _mount("dev", "/dev"),
        ],
    )
    volumes = [
        _host_path("diagsdump", "/var/cores"),
        _host_path("dockersock", "/var/run/docker.sock"),
        _host_path("containerdsock", "/run/containerd"),
        _host_path("etcpwx", "/etc/pwx"),
        _host_path("optpwx", "/opt/pwx"),
        _host_path("procmount", "/proc"),
        _host_path("sysdmount", "/etc/systemd/system"),
        _host_path("journalmount1", "/var/run/log"),
        _host_path("dev", "/dev"),
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "portworx",
            "namespace": PX_NAMESPACE,
            "labels": {"name": "portworx"},
            "annotations": {"portworx.com/install-source": "https://install.portworx.com/3.1"},
            "managedFields": _managed_fields("kubectl-client-side-apply", "apps/v1"),
        },
        "spec": {
            "selector": {"matchLabels": {"name": "portworx"}},
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "revisionHistoryLimit": 10,
            "template": {
                "metadata": {"labels": {"name": "portworx"}},
                "spec": {
                    "containers": [px],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "hostNetwork": True,
                    "hostPID": False,
                    "serviceAccountName": "px-account",
                    "serviceAccount": "px-account",
                    "securityContext": {},
                    "schedulerName": "default-scheduler",
                    "volumes": volumes,
                },
            },
        },
    }


def portworx_review() -> Json:
    """CREATE of `portworx_daemonset` by kubectl."""
    return review(
        portworx_daemonset(),
        uid="705ab4f5-6393-11e8-b7cc-42010a800002",
        group="apps",
        kind="DaemonSet",
        resource="daemonsets",
        namespace=PX_NAMESPACE,
        name="portworx",
        username="kubernetes-admin",
    )


# --- Rook OSD pod on a PVC (about 8 KB) --------------------------------------------------------


def _ceph_container(name: str, command: list[str], args: list[str], mounts: list[Json]) -> Json:
    return _container(
        name,
        CEPH_IMAGE,
        command=command,
        args=args,
        securityContext={"privileged": True},
        volumeMounts=mounts,
    )


def rook_osd_pod(pvc: str = ROOK_PVC) -> Json:
    """An encrypted OSD on ``pvc`` as Rook's ReplicaSet creates it (key from a Secret)."""
    block = f"/var/lib/ceph/osd/ceph-0/{pvc}"
    dm = f"{pvc}-block-dmcrypt"
    bridge = _mount(f"{pvc}-bridge", "/var/lib/ceph/osd/ceph-0")
    data = _mount("rook-data", "/var/lib/rook")
    devices = _mount("devices", "/dev")
    mapper = _mount("dev-mapper", "/dev/mapper")
    init = [
        _ceph_container(
            "blkdevmapper",
            ["/bin/bash", "-c"],
            [f"set -xe; PVC_SOURCE=/{pvc}; PVC_DEST={block}; cp -a $PVC_SOURCE $PVC_DEST"],
            [devices, bridge],
        ),
        _ceph_container(
            "encryption-open",
            ["/bin/bash", "-c"],
            [
                "set -xe; cryptsetup luksOpen --verbose --disable-keyring --allow-discards "
                f"--key-file /etc/ceph/luks_key {block}-tmp {dm} || true"
            ],
            [devices, bridge, _mount("osd-encryption-key", "/etc/ceph", read_only=True), mapper],
        ),
        _ceph_container(
            "blkdevmapper-encryption",
            ["/bin/bash", "-c"],
            [f"set -xe; cp -a /dev/mapper/{dm} {block}-block"],
            [devices, bridge, mapper],
        ),
        _ceph_container(
            "encrypted-block-status",
            ["/bin/bash", "-c"],
            [f"set -xe; cryptsetup status /dev/mapper/{dm}"],
            [devices, bridge, mapper],
        ),
        _ceph_container(
            "expand-encrypted-bluefs",
            ["/bin/bash", "-c"],
            [f"set -xe; cryptsetup resize --verbose {dm}; ceph-bluestore-tool bluefs-bdev-expand"],
            [devices, bridge, mapper, _mount("osd-encryption-key", "/etc/ceph", read_only=True)],
        ),
        _ceph_container(
            "activate",
            ["/bin/bash", "-c"],
            [
                "set -ex; OSD_ID=0; OSD_UUID=a7a2e5d4-39b1-4c2a-9b0e-2b6f1d0c8e11; "
                'ceph-bluestore-tool prime-osd-dir --dev "$DEVICE" --path /var/lib/ceph/osd/ceph-0'
            ],
            [devices, bridge, data],
        ),
        _ceph_container(
            "expand-bluefs",
            ["ceph-bluestore-tool"],
            ["bluefs-bdev-expand", "--path", "/var/lib/ceph/osd/ceph-0"],
            [devices, bridge],
        ),
        _ceph_container(
            "chown-container-data-dir",
            ["chown"],
            ["--verbose", "--recursive", "ceph:ceph", "/var/log/ceph", "/var/lib/ceph/crash"],
            [
                data,
                _mount("rook-ceph-log", "/var/log/ceph"),
                _mount("rook-ceph-crash", "/var/lib/ceph/crash"),
            ],
        ),
    ]
    init[0]["volumeDevices"] = [{"name": pvc, "devicePath": f"/{pvc}"}]
    osd = _ceph_container(
        "osd",
        ["ceph-osd"],
        [
            "--fsid=5f8cd1e2-0f4b-4d6a-8f7e-3c2b1a0d9e8f",
            "--keyring=/var/lib/ceph/osd/ceph-0/keyring",
            "--log-to-stderr=true",
            "--err-to-stderr=true",
            "--foreground",
            "--id",
            "0",
            "--setuser",
            "ceph",
            "--setgroup",
            "ceph",
            "--crush-location=root=default host=set1-data-0-abcde",
        ],
        [data, devices, bridge, _mount("rook-ceph-log", "/var/log/ceph")],
    )
    osd["env"] = [
        {"name": "ROOK_NODE_NAME", "value": pvc},
        {"name": "ROOK_CLUSTER_ID", "value": "2b7f5e1c-9d3a-4e8b-a1f0-6c5d4e3b2a19"},
        {"name": "ROOK_CLUSTER_NAME", "value": "rook-ceph"},
        {"name": "ROOK_PVC_BACKED_OSD", "value": "true"},
        {"name": "ROOK_ENCRYPTED_DEVICE", "value": "true"},
        {"name": "ROOK_BLOCK_PATH", "value": f"/dev/mapper/{dm}"},
        {
            "name": "POD_NAMESPACE",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}},
        },
        {"name": "CEPH_ARGS", "value": "-m $(ROOK_CEPH_MON_HOST)"},
    ]
    volumes = [
        {"name": "rook-data", "emptyDir": {}},
        {
            "name": "rook-config-override",
            "projected": {
                "sources": [{"configMap": {"name": "rook-config-override"}}],
                "defaultMode": 420,
            },
        },
        _host_path("rook-ceph-log", "/var/lib/rook/rook-ceph/log"),
        _host_path("rook-ceph-crash", "/var/lib/rook/rook-ceph/crash"),
        _host_path("devices", "/dev"),
        {"name": pvc, "persistentVolumeClaim": {"claimName": pvc}},
        _host_path(f"{pvc}-bridge", f"/var/lib/rook/rook-ceph/{pvc}", "DirectoryOrCreate"),
        {
            "name": "osd-encryption-key",
            "secret": {
                "secretName": f"rook-ceph-osd-encryption-key-{pvc}",
                "items": [{"key": "dmcrypt-key", "path": "luks_key"}],
                "defaultMode": 420,
            },
        },
        _host_path("dev-mapper", "/dev/mapper"),
        _host_path("run-udev", "/run/udev"),
        _token_volume("7x2kq"),
    ]
    labels = {
        "app": "rook-ceph-osd",
        "app.kubernetes.io/component": "cephclusters.ceph.rook.io",
        "app.kubernetes.io/managed-by": "rook-ceph-operator",
        "app.kubernetes.io/name": "ceph-osd",
        "app.kubernetes.io/part-of": "rook-ceph",
        "ceph-osd-id": "0",
        "ceph.rook.io/pvc": pvc,
        "ceph_daemon_id": "0",
        "ceph_daemon_type": "osd",
        "encrypted": "true",
        "osd": "0",
        "pod-template-hash": "6d8b7c9f5",
        "rook_cluster": "rook-ceph",
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "rook-ceph-osd-0-6d8b7c9f5-",
            "namespace": ROOK_NAMESPACE,
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "rook-ceph-osd-0-6d8b7c9f5",
                    "uid": "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": _managed_fields("kube-controller-manager", "v1"),
        },
        "spec": {
            "initContainers": init,
            "containers": [osd],
            "volumes": volumes,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirstWithHostNet",
            "serviceAccountName": "rook-ceph-osd",
            "serviceAccount": "rook-ceph-osd",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "priorityClassName": "system-node-critical",
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 2000001000,
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
        },
    }


def rook_review() -> Json:
    """CREATE of `rook_osd_pod` by the ReplicaSet controller (no name yet: generateName)."""
    return review(
        rook_osd_pod(),
        uid="9d1c2b3a-4e5f-4a6b-8c7d-1e2f3a4b5c6d",
        group="",
        kind="Pod",
        resource="pods",
        namespace=ROOK_NAMESPACE,
        name="",
        username="system:serviceaccount:kube-system:replicaset-controller",
    )


BODIES: Final = {"portworx-daemonset": portworx_review, "rook-osd-pvc": rook_review}
"""Name -> builder of the bodies the HTTP benchmark sends."""


# --- generated pods for the scaling measurement -------------------------------------------------


def scaling_pod(containers: int, volumes: int) -> Json:
    """A pod opted in with ``inject: "true"``: ``containers`` containers, each mounting ``volumes``.

    The built-in volume-keys profile applies: one key per PVC, the key volume mounted in every
    container, so the patch grows with both counts.
    """
    claims = [f"data-{i}" for i in range(volumes)]
    spec_containers = [
        _container(
            f"app-{i}",
            "registry.example.com/app:1.4.2",
            args=["--serve", f"--shard={i}"],
            env=[{"name": "SHARD", "value": str(i)}],
            resources={"requests": {"cpu": "100m", "memory": "128Mi"}},
            securityContext={"runAsUser": 1000, "runAsNonRoot": True},
            volumeMounts=[_mount(c, f"/data/{c}") for c in claims],
        )
        for i in range(containers)
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"scale-{containers}c-{volumes}v",
            "namespace": SCALING_NAMESPACE,
            "labels": {"app": "scale"},
            "annotations": {"vault-storage-injector.io/inject": "true"},
        },
        "spec": {
            "containers": spec_containers,
            "volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims],
            "securityContext": {"runAsUser": 1000, "fsGroup": 1000},
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
        },
    }


def scaling_review(containers: int, volumes: int) -> Json:
    """CREATE of `scaling_pod` as the apiserver sends it."""
    pod = scaling_pod(containers, volumes)
    return review(
        pod,
        uid="3c2b1a09-8f7e-4d6c-b5a4-39281706f5e4",
        group="",
        kind="Pod",
        resource="pods",
        namespace=SCALING_NAMESPACE,
        name=pod["metadata"]["name"],
        username="system:serviceaccount:kube-system:replicaset-controller",
    )
