"""The webhook over real Portworx and Rook objects that nobody on this project wrote.

shared/reference/real-world holds them (its SOURCES.md gives repository, path and commit): the
Portworx spec generator's DaemonSets, the Helm charts rendered, the operator's test specs and pod
templates, StorageClusters, Rook's CephCluster examples. They are read as data (never copied
into the project; test_portworx_layout builds fixtures of our own with the same shapes). Every
mutation must be valid (the strict Pod and DaemonSet schemas; a StorageCluster as the pod the
operator renders from it), idempotent, and free of required ``secretKeyRef``s to Secrets the
caches know are absent, in the Portworx manual's layout: px-vault in ``portworx``, where
Portworx reads it itself. The table pins what the webhook does to each.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonpatch
import pytest

from tests import realworld
from tests.unit.webhook.support import (
    StaticCluster,
    added_secret_refs,
    required_refs_to_absent,
    secret_refs,
    validate,
    validate_storage_cluster,
)
from webhook.core import constants as c
from webhook.core.config import load_config, parse_config
from webhook.core.model import AdmissionContext, MutationResult
from webhook.core.mutation import build_mutator

BUILTIN = build_mutator(load_config(None))
TLS = build_mutator(
    parse_config(
        "profiles:\n"
        "  - {name: portworx, type: portworx,"
        " connection: {secret: px-vault, tlsSecret: vault-tls}}\n"
        "  - {name: portworx-operator, type: portworx-operator,"
        " connection: {secret: px-vault, tlsSecret: vault-tls}}\n",
        source="tls.yaml",
    )
)
OPTED = {c.LABEL_ENABLED: c.ENABLED_VALUE}
SEED_LAYOUT = StaticCluster(
    {"kube-system": OPTED, "portworx": OPTED, "rook-ceph": OPTED},
    {
        "portworx/px-vault": ["VAULT_ADDR", "VAULT_AUTH_METHOD", "VAULT_AUTH_KUBERNETES_ROLE"],
        "kube-system/vault-tls": ["ca.crt"],
        "portworx/vault-tls": ["ca.crt"],
    },
)
"""The caches of a cluster laid out as the Portworx manual (seed 000) says."""

READS_ITSELF = (
    "Portworx reads portworx/px-vault itself, no env added: kube-system/px-account needs get on "
    "it (Portworx's px-role)"
)
K8S_WARNINGS = 4
EXPECTED: dict[str, tuple[str, str, str | None, int]] = {
    # spec generator, -secret_type k8s: refused with what to do next
    "p01-yb-portworx-ds.yaml": ("skipped", c.SKIP_CONFLICT, "portworx", K8S_WARNINGS),
    "p02-yb-portworx-api-ds.yaml": ("skipped", c.SKIP_NO_PROFILE, None, 0),
    "p03-stgleb-portworx-ds.yaml": ("skipped", c.SKIP_CONFLICT, "portworx", K8S_WARNINGS),
    # no -secret_type: -secret_type vault, no reference to px-vault, which Portworx reads itself
    "p04-fmrtl73-portworx-ds.yaml": ("mutated", c.REASON_INJECTED, "portworx", 1),
    "p05-op-simple-ds.yaml": ("mutated", c.REASON_INJECTED, "portworx", 1),
    "p06-op-ds-all-components.yaml": ("mutated", c.REASON_INJECTED, "portworx", 1),
    "p07-op-px-master-ds.yaml": ("skipped", c.SKIP_CONFLICT, "portworx", K8S_WARNINGS),
    # PX_SECRETS_NAMESPACE=custom: Portworx reads custom/px-vault, which it needs a Role for
    "p08-op-envoverride-ds.yaml": ("mutated", c.REASON_INJECTED, "portworx", 1),
    # Helm, secretType=vault: nothing to add, and the warning says where px-vault must be
    "p09-helm-ds-vault.yaml": ("skipped", c.SKIP_ALREADY_INJECTED, "portworx", 1),
    "p10-helm-sc-vault.yaml": ("mutated", c.REASON_INJECTED, "portworx-operator", 0),
    "p11-helm-sc-default.yaml": ("skipped", c.SKIP_CONFLICT, "portworx-operator", K8S_WARNINGS),
    "p12-ccrow42-sc01.yaml": ("skipped", c.SKIP_CONFLICT, "portworx-operator", K8S_WARNINGS),
    "p13-op-sc-all.yaml": ("mutated", c.REASON_INJECTED, "portworx-operator", 0),
    # the operator's pods: its StorageCluster's; warned about when they lack its Vault settings
    # the operator's pods: the StorageCluster's provider decides (p14: k8s, left to it, warned);
    # one with no provider and no Vault env is wired at creation (pods-only mode); one rendered
    # from a mutated StorageCluster is the StorageCluster's, silently
    "p14-op-px-master-pod.yaml": ("skipped", c.SKIP_OPERATOR_MANAGED, "portworx-operator", 1),
    "p15-op-envoverride-pod.yaml": ("mutated", c.REASON_INJECTED, "portworx-operator", 1),
    "p16-derived-operator-pod-from-p10.yaml": (
        "skipped",
        c.SKIP_OPERATOR_MANAGED,
        "portworx-operator",
        0,
    ),
    # CephClusters: the webhook changes Rook's pods, never the CephCluster
    "r01-rook-cluster-on-pvc-encrypted.yaml": ("skipped", c.SKIP_KIND_NOT_HANDLED, None, 0),
    "r02-rook-test-cluster-on-pvc-encrypted.yaml": ("skipped", c.SKIP_KIND_NOT_HANDLED, None, 0),
    "r03-rook-test-cluster-on-pvc-kms-k8s.yaml": ("skipped", c.SKIP_KIND_NOT_HANDLED, None, 0),
}
"""Each real object, and what the webhook does to it (outcome, reason, profile, warnings)."""


def admit(obj: dict[str, Any], mutator: Any = BUILTIN) -> tuple[MutationResult, dict[str, Any]]:
    """The object's first admission (CREATE for pods, UPDATE for the rest, as the doctor asks),
    checked: valid, idempotent, never requiring a Secret known to be absent."""
    group, _, version = obj["apiVersion"].rpartition("/")
    namespace = obj["metadata"].get("namespace", "")
    operation = "CREATE" if obj["kind"] == "Pod" else "UPDATE"
    ctx = AdmissionContext(operation, namespace, group, version, obj["kind"], cluster=SEED_LAYOUT)
    result = mutator(copy.deepcopy(obj), ctx)
    mutated: dict[str, Any] = jsonpatch.apply_patch(obj, list(result.ops))
    if obj["kind"] == c.STORAGE_CLUSTER_KIND:
        validate_storage_cluster(mutated)
    elif obj["kind"] in ("Pod", "DaemonSet"):
        validate(mutated)
    assert list(mutator(mutated, ctx).ops) == [], "a second pass must add nothing"
    assert required_refs_to_absent(mutated, namespace, SEED_LAYOUT, obj) == []
    assert all(len(w) <= c.MAX_WARNING_LENGTH for w in result.warnings)
    return result, mutated


@realworld.needs_folder
def test_the_table_names_every_real_object() -> None:
    assert {p.name for p in realworld.objects()} == set(EXPECTED)


@realworld.needs_folder
@pytest.mark.parametrize("path", realworld.objects(), ids=lambda p: p.name)
def test_each_real_object_is_mutated_validly_idempotently_and_as_the_table_says(
    path: Path,
) -> None:
    obj = realworld.load(path)

    result, mutated = admit(obj)

    outcome, reason, profile, warnings = EXPECTED[path.name]
    assert (result.outcome, result.reason, result.profile) == (outcome, reason, profile)
    assert len(result.warnings) == warnings, result.warnings
    namespace = obj["metadata"].get("namespace")
    if namespace != c.PX_DAEMONSET_SECRETS_NAMESPACE:  # px-vault is never referred to from afar
        added = added_secret_refs(mutated, obj)
        assert not [r for r in added if r.get("name") == c.DEFAULT_PX_SECRET]
    if result.outcome == "mutated":
        assert mutated["metadata"]["annotations"][c.ANNOTATION_STATUS] == c.STATUS_INJECTED


@realworld.needs_folder
@pytest.mark.parametrize(
    "path", [p for p in realworld.objects("p") if "-ds" in p.name], ids=lambda p: p.name
)
def test_a_real_daemonset_in_kube_system_keeps_the_tls_files_and_gets_no_px_vault_reference(
    path: Path,
) -> None:
    obj = realworld.load(path)

    result, mutated = admit(obj, TLS)

    if result.outcome != "mutated":
        assert result.reason in (c.SKIP_CONFLICT, c.SKIP_NO_PROFILE)
        return
    container = next(
        ct for ct in mutated["spec"]["template"]["spec"]["containers"] if ct["name"] == "portworx"
    )
    assert not [r for r in secret_refs(container) if r.get("name") == c.DEFAULT_PX_SECRET]
    assert {"name": c.TLS_VOLUME_NAME, "mountPath": c.TLS_MOUNT_PATH, "readOnly": True} in (
        container["volumeMounts"]
    )
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["VAULT_CACERT"] == f"{c.TLS_MOUNT_PATH}/ca.crt"
    args = container["args"]
    assert args[args.index("-secret_type") + 1] == "vault"


@realworld.needs_folder
def test_the_manuals_daemonset_layout_says_where_px_vault_must_be() -> None:
    result, _ = admit(realworld.load(realworld.objects("p04")[0]))
    assert result.warnings == (READS_ITSELF,)


@realworld.needs_folder
def test_an_operator_pod_rendered_from_a_mutated_storage_cluster_is_left_alone_silently() -> None:
    """p16 is p15 with the webhook's output for p10 rendered as deployment.go renders it."""
    pod = realworld.load(realworld.objects("p16")[0])
    assert any(v["name"].startswith(c.PX_OPERATOR_VOLUME_PREFIX) for v in pod["spec"]["volumes"])

    for mutator in (BUILTIN, TLS):
        result, mutated = admit(pod, mutator)
        assert (result.reason, result.warnings, mutated) == (c.SKIP_OPERATOR_MANAGED, (), pod)
