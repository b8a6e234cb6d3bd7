"""Every label, annotation, name and default the mutation uses, in one place.

The names here are part of the product's interface (cluster admins type them into manifests, other
tools grep for them), so each is a named constant with a one-line doc of its format, meaning and
default; ``docs/profiles.md`` is tested against this module. Pure: standard library and
`vsi_common.names` only.
"""

# ruff: noqa: S105 (Secret *names* and keys, no secret values)
from __future__ import annotations

import functools
from importlib import metadata
from types import MappingProxyType
from typing import Final

from vsi_common import names

# --- labels and annotations of this project -------------------------------------------------------

PREFIX: Final = "vault-storage-injector.io/"
"""Prefix of every label and annotation this project reads or writes."""
LABEL_ENABLED: Final = PREFIX + "enabled"
"""Namespace label; ``"true"`` opts the namespace in (the webhook's namespaceSelector uses it)."""
ENABLED_VALUE: Final = "true"
"""The value of `LABEL_ENABLED` that opts a namespace in; any other value is off."""
ANNOTATION_INJECT: Final = PREFIX + "inject"
"""Object annotation: ``"false"`` opts out; ``"true"`` opts a Pod in to the volume-keys profile."""
INJECT_TRUE: Final = "true"
"""Value of `ANNOTATION_INJECT` that opts a Pod in (volume-keys)."""
INJECT_FALSE: Final = "false"
"""Value of `ANNOTATION_INJECT` that opts an object out of every profile."""
ANNOTATION_PROFILE: Final = PREFIX + "profile"
"""Object annotation: the name of a configured profile to use; default the first that matches."""
ANNOTATION_STATUS: Final = PREFIX + "status"
"""Annotation the webhook leaves on every object it mutated; value `STATUS_INJECTED`."""
STATUS_INJECTED: Final = "injected"
"""Value of `ANNOTATION_STATUS` on a mutated object."""

# --- Kubernetes names we read ---------------------------------------------------------------------

ANNOTATION_MIRROR_POD: Final = "kubernetes.io/config.mirror"
"""Annotation the kubelet puts on mirror pods of static pods; those are never mutated."""

# --- the injected init container and its volumes --------------------------------------------------

IMAGE_REPOSITORY: Final = "ghcr.io/vault-storage-injector/vault-storage-injector"
"""Repository of this project's image; the default tag is the installed package version."""
DISTRIBUTION: Final = "vault-storage-injector"
"""Python distribution whose version tags the default image."""
DEFAULT_IMAGE_PULL_POLICY: Final = "IfNotPresent"
"""Default ``injector.imagePullPolicy``."""
INJECTOR_CONTAINER_NAME: Final = "vsi-injector"
"""Name of the injected init container; its presence means the pod was already handled."""
INJECTOR_COMMAND: Final = ("vsi-injector",)
"""Command of the injected init container; settings go in ``VSI_*`` env, never in arguments."""
DEFAULT_RUN_AS_USER: Final = 65532
"""Default ``injector.runAsUser``: uid of the injector when the pod names no non-root user."""
DEFAULT_REQUESTS: Final = MappingProxyType({"cpu": "10m", "memory": "32Mi"})
"""Default ``injector.resources.requests`` of the injected init container."""
DEFAULT_LIMITS: Final = MappingProxyType({"cpu": "200m", "memory": "128Mi"})
"""Default ``injector.resources.limits`` of the injected init container."""
KEY_VOLUME_NAME: Final = "vsi-keys"
"""volume-keys profile: the in-memory volume that receives one key file per PVC."""
DEFAULT_KEY_MOUNT_PATH: Final = "/var/run/vault-storage-injector/keys"
"""Default ``keyVolume.mountPath``: where key files appear (injector and consuming containers)."""
DEFAULT_KEY_SIZE_LIMIT: Final = "1Mi"
"""Default ``keyVolume.sizeLimit`` of the in-memory key volume."""
TLS_VOLUME_NAME: Final = "vsi-vault-tls"
"""Projected volume of a profile's TLS files (from its ``tlsSecret`` or Rook's TLS Secrets)."""
TLS_MOUNT_PATH: Final = "/etc/vault-storage-injector/tls"
"""Where the TLS files are mounted read-only. It contains ``/etc/vault``, the mark by which Rook's
code reads VAULT_CACERT & co. as file paths instead of Secret names, without lying inside Rook's
own ``/etc/vault`` volume."""
TLS_CA_FILE: Final = names.TLS_CA_FILE
"""Key of a ``tlsSecret`` with the CA bundle, and its file in the TLS directory (VAULT_CACERT)."""
TLS_CERT_FILE: Final = names.TLS_CERT_FILE
"""Key of a ``tlsSecret`` with the client certificate, and its file (VAULT_CLIENT_CERT)."""
TLS_KEY_FILE: Final = names.TLS_KEY_FILE
"""Key of a ``tlsSecret`` with the client key, and its file (VAULT_CLIENT_KEY)."""
TLS_FILE_MODE: Final = 0o444
"""Mode of the TLS files: the injector (and Rook's ``rook`` user) read them as non-root."""
SEED_VOLUME_NAME: Final = "vsi-rook-seed"
"""rook-osd: the former Rook key Secret volume, kept read-only for the injector as a seed."""
SEED_MOUNT_PATH: Final = "/var/run/vault-storage-injector/seed"
"""Where the seed Secret is mounted, in the injector only."""
SERVICE_ACCOUNT_MOUNT_PATH: Final = "/var/run/secrets/kubernetes.io/serviceaccount"
"""Where the kubelet mounts the pod's API service-account token. The injector never gets it (it
logs in to Vault with `VAULT_TOKEN_VOLUME_NAME`); the doctor reads it as the default of
VAULT_AUTH_KUBERNETES_TOKEN_PATH for containers the webhook did not build."""
VAULT_TOKEN_VOLUME_NAME: Final = "vsi-vault-token"
"""Projected volume of the injector's own service-account token for Vault (kubernetes auth):
audience ``connection.tokenAudience``, mounted by ``vsi-injector`` alone. The pod's API token
(``kube-api-access-*``) is never given to the injector, so Vault, or whatever answers at
VAULT_ADDR, never receives a token the API server accepts."""
VAULT_TOKEN_MOUNT_PATH: Final = "/var/run/vault-storage-injector/vault-token"
"""Where `VAULT_TOKEN_VOLUME_NAME` is mounted read-only in the injector."""
VAULT_TOKEN_FILE: Final = "token"
"""The token's file in `VAULT_TOKEN_MOUNT_PATH` (VAULT_AUTH_KUBERNETES_TOKEN_PATH)."""
VAULT_TOKEN_EXPIRATION_SECONDS: Final = 3600
"""``expirationSeconds`` of the Vault token: at most an hour (the injector uses it once, at
start; the kubelet rotates it)."""
DEFAULT_TOKEN_AUDIENCE: Final = "vault"
"""Default ``connection.tokenAudience``: the audience the Vault role must require."""
MAX_TOKEN_AUDIENCE: Final = 253
"""Longest ``connection.tokenAudience`` accepted (a DNS name or a short URL)."""
TOKEN_SECRET_KEY: Final = "token"
"""Key of ``connection.tokenSecret`` that holds VAULT_TOKEN (as Rook's ``tokenSecretName``)."""

# --- Portworx -------------------------------------------------------------------------------------

PORTWORX_CONTAINER: Final = "portworx"
"""Name of the Portworx container in the DaemonSet and its pods."""
SECRET_TYPE_FLAG: Final = "-secret_type"
"""Portworx argument that selects the secrets provider."""
SECRET_TYPE_VAULT: Final = "vault"
"""Value of `SECRET_TYPE_FLAG` (and StorageCluster ``spec.secretsProvider``) for Vault."""
STORAGE_CLUSTER_GROUP: Final = "core.libopenstorage.org"
"""API group of the Portworx Operator's StorageCluster."""
STORAGE_CLUSTER_KIND: Final = "StorageCluster"
"""Kind of the Portworx Operator's cluster object."""
DEFAULT_PX_SECRET: Final = "px-vault"
"""Connection Secret of the built-in portworx profiles (the Portworx manual's name), and the only
name Portworx reads itself, through the API, from `PX_SECRETS_NAMESPACE_ENV`'s namespace."""
PX_SECRETS_NAMESPACE_ENV: Final = "PX_SECRETS_NAMESPACE"
"""Env of the portworx container: the namespace Portworx reads px-vault (and keeps its
Kubernetes-provider Secrets) in; the operator sets it to the StorageCluster's namespace."""
PX_DAEMONSET_SECRETS_NAMESPACE: Final = "portworx"
"""Where a DaemonSet install of Portworx reads px-vault when `PX_SECRETS_NAMESPACE_ENV` is unset
(the Portworx manual: "under the portworx namespace")."""
PX_SECRETS_ROLE: Final = "px-role"
"""The Role the Portworx spec generator makes in `PX_DAEMONSET_SECRETS_NAMESPACE` for px-account:
get (and write) on the Secrets there."""
PX_OPERATOR_SERVICE_ACCOUNT: Final = "portworx"
"""The service account of the pods the Portworx operator renders, in the StorageCluster's
namespace."""
PX_CLUSTER_KEY_SECRET: Final = "px-vol-encryption"
"""Portworx's Kubernetes-provider Secret holding the cluster-wide volume key."""
PX_OPERATOR_LABEL_MANAGED_BY: Final = "operator.libopenstorage.org/managed-by"
"""Label the Portworx operator puts on the pods it renders; value `PX_OPERATOR_MANAGED_BY`."""
PX_OPERATOR_MANAGED_BY: Final = "portworx"
"""Value of `PX_OPERATOR_LABEL_MANAGED_BY` on the operator's Portworx pods."""
PX_OPERATOR_LABEL_CLUSTER: Final = "operator.libopenstorage.org/name"
"""Label of the operator's pods naming their StorageCluster."""
PX_OPERATOR_VOLUME_PREFIX: Final = "user-"
"""What the operator puts before the name of each StorageCluster ``spec.volumes`` entry when it
renders it into a pod (``user-vsi-vault-tls``)."""

# --- Rook-Ceph ------------------------------------------------------------------------------------

ROOK_APP_LABEL: Final = "app"
"""Label that names a Rook daemon; OSD pods have value `ROOK_OSD_APP`."""
ROOK_OSD_APP: Final = "rook-ceph-osd"
"""Value of `ROOK_APP_LABEL` on OSD pods."""
ROOK_PVC_LABEL: Final = "ceph.rook.io/pvc"
"""Label on OSD-on-PVC pods; value the OSD's data PVC (and the key's name in Vault)."""
ROOK_KEY_VOLUME: Final = "osd-encryption-key"
"""Volume of an encrypted OSD pod that Rook's encryption-open init containers read the key from."""
ROOK_KEY_FILE: Final = "luks_key"
"""File name of the key inside `ROOK_KEY_VOLUME` (read as ``/etc/ceph/luks_key``)."""
ROOK_SECRET_KEY: Final = "dmcrypt-key"
"""Key of Rook's per-OSD Secret ``rook-ceph-osd-encryption-key-<pvc>`` that holds the key."""
ROOK_KMS_INIT_CONTAINER: Final = "encryption-kms-get-kek"
"""Rook's own init container that fetches the key from its KMS (``rook key-management get <pvc>
/etc/ceph/luks_key``); rook-kms replaces it in place with ``vsi-injector``."""
DEFAULT_ROOK_SECRET: Final = "rook-vault"
"""Connection Secret (px-vault style) of the built-in rook-osd and rook-kms profiles, in the Rook
namespace."""

# --- Rook-Ceph in Vault-KMS mode (rook-kms) -------------------------------------------------------

ROOK_OPERATOR_APP: Final = "rook-ceph-operator"
"""Value of `ROOK_APP_LABEL` on the Rook operator's pod."""
ROOK_OPERATOR_ARGS: Final = ("ceph", "operator")
"""Arguments of the operator's ``rook`` process (command and args hold them in a row)."""
ROOK_PREPARE_APP: Final = "rook-ceph-osd-prepare"
"""Value of `ROOK_APP_LABEL` on the OSD prepare Job's pods."""
ROOK_PROVISION_CONTAINER: Final = "provision"
"""The prepare pod's container that runs ``/rook/rook ceph osd provision`` (ceph-volume)."""
ROOK_PROVISION_ARGS: Final = ("ceph", "osd", "provision")
"""Arguments of the ``provision`` container's ``rook`` process."""
ROOK_ENCRYPTED_DEVICE_ENV: Final = "ROOK_ENCRYPTED_DEVICE"
"""Env of the ``provision`` container; ``"true"`` for an encrypted OSD."""
ROOK_KMS_PROVIDER_ENV: Final = "KMS_PROVIDER"
"""Env Rook copies from ``security.kms.connectionDetails`` into its KMS containers."""
ROOK_KMS_VAULT: Final = "vault"
"""Value of `ROOK_KMS_PROVIDER_ENV` when Rook keeps its keys in Vault (rook-kms pods)."""
ROOK_KEY_ROTATION_APP: Final = "rook-ceph-osd-key-rotation"
"""Value of `ROOK_APP_LABEL` on the pods of Rook's key-rotation CronJobs."""
ROOK_ROTATE_ARGS: Final = ("key-management", "rotate-key")
"""Arguments the key-rotation container's ``rook`` process starts with (then the PVC, devices)."""
ROOK_GET_KEK_ARGS: Final = ("key-management", "get")
"""Arguments `ROOK_KMS_INIT_CONTAINER` starts with (then the PVC and the key file's path)."""
ROOK_OPEN_CONTAINER: Final = "encryption-open"
"""Rook's init container that opens the OSD's data device with ``/etc/ceph/luks_key``."""
ROOK_OWN_SETTINGS: Final = frozenset(
    {
        names.VAULT_ADDR,
        names.VAULT_AUTH_METHOD,
        names.VAULT_TOKEN,
        names.VAULT_APPROLE_ROLE_ID,
        names.VAULT_APPROLE_SECRET_ID,
    }
)
"""rook-kms: the address and the auth choice with its credentials, which Rook insists on finding
in the CephCluster's ``security.kms``: never injected into Rook's own containers."""
ROOK_DEFAULT_BACKEND_PATH: Final = "secret"
"""The KV mount Rook puts in its pods' VAULT_BACKEND_PATH when the CephCluster names none."""
CRYPTSETUP_LOCK_VOLUME: Final = "vsi-cryptsetup-locks"
"""rook-kms: in-memory volume for cryptsetup's lock directory in the injector (``--verify-luks``
on a block device takes a lock there; the read-only root filesystem has none)."""
CRYPTSETUP_LOCK_DIR: Final = "/run/cryptsetup"
"""Where cryptsetup takes its device locks; `CRYPTSETUP_LOCK_VOLUME` is mounted there."""
CRYPTSETUP_LOCK_SIZE_LIMIT: Final = "1Mi"
"""``sizeLimit`` of `CRYPTSETUP_LOCK_VOLUME` (it holds empty lock files)."""
DISK_GROUP: Final = 6
"""rook-kms: ``runAsGroup`` of the injector that reads the OSD's block device (``--verify-luks``):
the ``disk`` group that owns block devices (mode 0660) on Debian, Ubuntu, RHEL and Fedora."""
DEFAULT_VOLUME_KEYS_SECRET: Final = "vsi-vault"
"""Connection Secret (px-vault style) of the built-in volume-keys profile, in the pod namespace."""

# --- profile types and skip reasons ---------------------------------------------------------------

TYPE_PORTWORX: Final = "portworx"
"""Profile type: DaemonSet (CREATE, UPDATE) or Pod (CREATE) with a ``portworx`` container."""
TYPE_PORTWORX_OPERATOR: Final = "portworx-operator"
"""Profile type: a StorageCluster (``core.libopenstorage.org/v1``)."""
TYPE_ROOK_OSD: Final = "rook-osd"
"""Profile type: an encrypted Rook OSD-on-PVC Pod (CREATE)."""
TYPE_ROOK_KMS: Final = "rook-kms"
"""Profile type: Rook in Vault-KMS mode: its operator, OSD prepare, key-rotation and OSD Pods."""
TYPE_VOLUME_KEYS: Final = "volume-keys"
"""Profile type: a Pod annotated ``inject: "true"`` with PVC volumes (CREATE)."""
PROFILE_TYPES: Final = (
    TYPE_PORTWORX,
    TYPE_PORTWORX_OPERATOR,
    TYPE_ROOK_OSD,
    TYPE_ROOK_KMS,
    TYPE_VOLUME_KEYS,
)
"""Every profile type, in documentation order."""
INJECTOR_TYPES: Final = (TYPE_ROOK_OSD, TYPE_ROOK_KMS, TYPE_VOLUME_KEYS)
"""The profile types that inject ``vsi-injector`` (and so its Vault token)."""

REASON_INJECTED: Final = "injected"
"""Outcome reason of a mutation that changed the object."""
SKIP_OPERATION: Final = "operation"
"""Skipped: the operation is not one the profile handles (DELETE, CONNECT, Pod UPDATE...)."""
SKIP_NO_OBJECT: Final = "no-object"
"""Skipped: the request carries no object."""
SKIP_WEBHOOK_NAMESPACE: Final = "webhook-namespace"
"""Skipped: the object lives in the webhook's own namespace."""
SKIP_NAMESPACE_NOT_ENABLED: Final = "namespace-not-enabled"
"""Skipped: the namespace cache says the namespace is not labelled `LABEL_ENABLED`."""
SKIP_MIRROR_POD: Final = "mirror-pod"
"""Skipped: a kubelet mirror pod."""
SKIP_OPTED_OUT: Final = "opted-out"
"""Skipped: annotated ``inject: "false"``."""
SKIP_NO_PROFILE: Final = "no-profile"
"""Skipped: no configured profile matches the object."""
SKIP_KIND_NOT_HANDLED: Final = "kind-not-handled"
"""Skipped: no profile type handles this kind at all (a ``Widget``, a ``ConfigMap``)."""
SKIP_ANNOTATION_VALUE: Final = "annotation-value"
"""Skipped (with a warning): `ANNOTATION_INJECT` holds another value than ``"true"`` or
``"false"`` (``"yes"``), which opts nothing in."""
SKIP_NO_PVC_VOLUMES: Final = "no-pvc-volumes"
"""Skipped (with a warning): a Pod annotated ``inject: "true"`` that has no
``persistentVolumeClaim`` volume, so volume-keys has no key to give it."""
SKIP_NAMESPACE_NOT_SERVED: Final = "namespace-not-served"
"""Skipped (with a warning): the profile the annotation names, or every configured one that
applies, is bound (``namespaces`` / ``namespaceSelector``) to namespaces this one is not among, or
to labels the webhook cannot see (no namespace cache)."""
SKIP_UNKNOWN_PROFILE: Final = "unknown-profile"
"""Skipped (with a warning): the profile annotation names no configured profile."""
SKIP_ALREADY_INJECTED: Final = "already-injected"
"""Skipped: everything is in place already (the patch would be empty)."""
SKIP_KMS_MANAGED: Final = "kms-managed"
"""Skipped (with a warning): Rook fetches the OSD key from its own KMS and no rook-kms profile is
configured to take that over."""
SKIP_UNEXPECTED_SHAPE: Final = "unexpected-shape"
"""Skipped (with a warning naming what was expected): a Rook pod whose shape is not the one this
webhook knows (an init container missing, a volume or argument that differs: another Rook
version)."""
SKIP_CONFLICT: Final = "conflict"
"""Skipped (with a warning): the object selects another secrets provider, has a volume of ours
with another source, mounts another volume at one of our paths, its ``ceph.rook.io/pvc`` label
names none of its PVCs, or Rook reads its keys from another KV mount or Vault namespace than the
profile names."""
SKIP_OPERATOR_MANAGED: Final = "operator-managed"
"""Skipped: a pod the Portworx operator renders from a StorageCluster; its Vault settings come
from the StorageCluster (silent when the pod carries them, a warning naming the StorageCluster
when it does not)."""
SKIP_MALFORMED: Final = "malformed"
"""Skipped (with a warning): a field the patch must extend (a list, ``metadata``, a
StorageCluster ``spec``) holds something else; the schema check after admission rejects it."""

INSECURE_WARNING: Final = (
    "profile {profile!r} is insecure: {setting} (allowed by connection.allowInsecure)"
)
"""The warning of each mutation by a profile whose ``allowInsecure`` lets it turn TLS off."""

MAX_WARNING_LENGTH: Final = 120
"""Admission warnings longer than this are shortened (the apiserver truncates them anyway)."""


@functools.cache
def default_image() -> str:
    """This project's image at the installed package version (``injector.image`` default)."""
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a bare source tree
        version = "latest"
    return f"{IMAGE_REPOSITORY}:{version}"
