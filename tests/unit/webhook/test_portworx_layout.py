"""Portworx's own lookup of px-vault, its operator's pods, and a refused provider switch.

Fixtures of our own in the shapes admins have (`tests.unit.webhook.px_shapes`). Each mutation
must be valid, idempotent and free of required ``secretKeyRef``s to Secrets the caches know are
absent; where Portworx reads px-vault itself (another namespace than the object's), no entry
refers to it, ``-secret_type vault`` and the TLS files stay, and the warning names the Secret
and the grant Portworx needs.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest

from tests.unit.webhook import px_shapes
from tests.unit.webhook.support import (
    StaticCluster,
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
PX_VAULT = ["VAULT_ADDR", "VAULT_AUTH_METHOD", "VAULT_AUTH_KUBERNETES_ROLE"]


def caches(secrets: dict[str, list[str]], *namespaces: str) -> StaticCluster:
    """The caches of a cluster whose ``namespaces`` opted in and hold ``secrets``."""
    return StaticCluster({ns: {c.LABEL_ENABLED: c.ENABLED_VALUE} for ns in namespaces}, secrets)


def config(connection: str, profile_type: str = "portworx") -> Any:
    text = f"profiles: [{{name: px, type: {profile_type}, connection: {connection}}}]"
    return build_mutator(parse_config(text, source="p.yaml"))


def run(
    obj: dict[str, Any],
    cluster: StaticCluster | None = None,
    mutator: Any = BUILTIN,
    operation: str = "CREATE",
) -> tuple[MutationResult, dict[str, Any]]:
    """One admission of ``obj``; asserts the output is valid, idempotent, and never requires a
    Secret the caches know is absent."""
    group, _, version = obj["apiVersion"].rpartition("/")
    namespace = obj["metadata"]["namespace"]
    ctx = AdmissionContext(operation, namespace, group, version, obj["kind"], cluster=cluster)
    result = mutator(copy.deepcopy(obj), ctx)
    mutated: dict[str, Any] = jsonpatch.apply_patch(obj, list(result.ops))
    if obj["kind"] == c.STORAGE_CLUSTER_KIND:
        validate_storage_cluster(mutated)
    else:
        validate(mutated)
    assert list(mutator(mutated, ctx).ops) == []
    assert required_refs_to_absent(mutated, namespace, cluster, obj) == []
    assert all(len(w) <= c.MAX_WARNING_LENGTH for w in result.warnings)
    return result, mutated


def portworx(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]["template"]["spec"] if obj["kind"] == "DaemonSet" else obj["spec"]
    found: dict[str, Any] = next(ct for ct in spec["containers"] if ct["name"] == "portworx")
    return found


def env_of(obj: dict[str, Any]) -> dict[str, Any]:
    entries = obj["spec"].get("env", []) if obj["kind"] == c.STORAGE_CLUSTER_KIND else None
    if entries is None:
        entries = portworx(obj).get("env", [])
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in entries}


def px_vault_refs(obj: dict[str, Any]) -> list[Any]:
    return [ref for ref in secret_refs(obj) if ref.get("name") == c.DEFAULT_PX_SECRET]


# --- where Portworx reads px-vault ----------------------------------------------------------------


def test_the_manuals_layout_gets_no_reference_and_a_warning_naming_the_secret_and_role() -> None:
    daemonset = px_shapes.spec_generator_daemonset(secret_type=None)
    cluster = caches({"portworx/px-vault": PX_VAULT}, "kube-system")

    result, mutated = run(daemonset, cluster)

    assert result.outcome == "mutated"
    assert px_vault_refs(mutated) == []
    assert portworx(mutated)["args"][-2:] == ["-secret_type", "vault"]
    assert c.PX_SECRETS_NAMESPACE_ENV not in env_of(mutated)
    assert list(result.warnings) == [
        "Portworx reads portworx/px-vault itself, no env added: kube-system/px-account needs get "
        "on it (Portworx's px-role)"
    ]


def test_a_daemonset_in_the_portworx_namespace_gets_the_env_entries() -> None:
    daemonset = px_shapes.spec_generator_daemonset(secret_type=None, namespace="portworx")
    cluster = caches({"portworx/px-vault": []}, "portworx")

    result, mutated = run(daemonset, cluster)

    assert len(px_vault_refs(mutated)) > 10
    assert {"name": "px-vault", "key": "VAULT_ADDR"} in px_vault_refs(mutated)
    assert list(result.warnings) == [
        "Secret px-vault in namespace portworx has no key VAULT_ADDR",
        "Secret px-vault in namespace portworx has no key VAULT_TOKEN (token auth: no "
        "VAULT_AUTH_METHOD)",
    ]


@pytest.mark.parametrize(
    ("value", "refs", "warning"),
    [
        ({"value": "kube-system"}, True, None),
        ({"valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}, True, None),
        (
            {"value": "custom"},
            False,
            "Portworx reads custom/px-vault itself, no env added: kube-system/px-account needs "
            "get on it (a Role in custom)",
        ),
        (
            {"valueFrom": {"configMapKeyRef": {"name": "px", "key": "ns"}}},
            False,
            "PX_SECRETS_NAMESPACE is a reference, so where Portworx reads px-vault is unknown: no "
            "env added; set secretNamespace",
        ),
    ],
)
def test_px_secrets_namespace_on_the_container_is_where_portworx_reads(
    value: dict[str, Any], refs: bool, warning: str | None
) -> None:
    env = [{"name": c.PX_SECRETS_NAMESPACE_ENV, **value}]
    daemonset = px_shapes.spec_generator_daemonset(secret_type=None, env=env)
    cluster = caches({"kube-system/px-vault": PX_VAULT}, "kube-system")

    result, mutated = run(daemonset, cluster)

    assert bool(px_vault_refs(mutated)) is refs
    assert list(result.warnings) == ([warning] if warning else [])
    assert [e for e in portworx(mutated)["env"] if e["name"] == c.PX_SECRETS_NAMESPACE_ENV] == env


def test_a_profile_secret_namespace_sets_px_secrets_namespace_only_where_the_default_is_wrong() -> (
    None
):
    here = config("{secret: px-vault, secretNamespace: kube-system}")
    default = config("{secret: px-vault, secretNamespace: portworx}")
    daemonset = px_shapes.spec_generator_daemonset(secret_type=None)
    cluster = caches({"kube-system/px-vault": PX_VAULT}, "kube-system")

    _, in_place = run(daemonset, cluster, here)
    result, elsewhere = run(daemonset, cluster, default)
    builtin, _ = run(daemonset, cluster)

    assert env_of(in_place)[c.PX_SECRETS_NAMESPACE_ENV] == "kube-system"
    assert px_vault_refs(in_place)
    assert c.PX_SECRETS_NAMESPACE_ENV not in env_of(elsewhere)
    assert px_vault_refs(elsewhere) == []
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("Portworx reads portworx/px-vault itself")
    # Portworx's default, not the profile's choice: the px-vault beside the DaemonSet is unused.
    assert builtin.warnings[1] == (
        "kube-system/px-vault is unused: Portworx reads portworx/px-vault (to use it: "
        "connection.secretNamespace: kube-system)"
    )


def test_a_container_and_a_profile_that_disagree_are_a_conflict() -> None:
    env = [{"name": c.PX_SECRETS_NAMESPACE_ENV, "value": "custom"}]
    daemonset = px_shapes.spec_generator_daemonset(secret_type=None, env=env)

    result, _ = run(daemonset, None, config("{secret: px-vault, secretNamespace: portworx}"))

    assert (result.reason, list(result.ops)) == (c.SKIP_CONFLICT, [])
    assert result.warnings == (
        "container portworx sets PX_SECRETS_NAMESPACE custom, the profile's px-vault is in "
        "portworx; object left unchanged",
    )


def test_a_secret_known_to_be_absent_is_never_a_required_reference() -> None:
    daemonset = px_shapes.spec_generator_daemonset(secret_type=None, namespace="portworx")
    cluster = caches({}, "portworx")

    result, mutated = run(daemonset, cluster)

    refs = px_vault_refs(mutated)
    assert refs
    assert all(ref["optional"] for ref in refs)
    assert "Secret px-vault not found in namespace portworx" in result.warnings[0]


def test_a_secret_of_another_name_is_read_through_env_only_in_the_pods_namespace() -> None:
    mutator = config("{secret: my-vault, tlsSecret: vault-ca}")
    daemonset = px_shapes.spec_generator_daemonset(secret_type=None)
    cluster = caches({"kube-system/my-vault": PX_VAULT, "kube-system/vault-ca": []}, "kube-system")

    result, mutated = run(daemonset, cluster, mutator)

    assert {ref["name"] for ref in secret_refs(mutated)} == {"my-vault"}
    assert c.PX_SECRETS_NAMESPACE_ENV not in env_of(mutated)
    assert "Portworx reads" not in " ".join(result.warnings)


def test_the_tls_files_stay_where_portworx_reads_px_vault_itself() -> None:
    mutator = config("{secret: px-vault, tlsSecret: vault-ca}")
    daemonset = px_shapes.helm_daemonset()
    cluster = caches({"kube-system/vault-ca": ["ca.crt"]}, "kube-system")

    _, mutated = run(daemonset, cluster, mutator)

    assert px_vault_refs(mutated) == []
    assert env_of(mutated)["VAULT_CACERT"] == f"{c.TLS_MOUNT_PATH}/ca.crt"
    mounts = [m["name"] for m in portworx(mutated)["volumeMounts"]]
    assert c.TLS_VOLUME_NAME in mounts
    assert portworx(mutated)["args"].count("-secret_type") == 1


def test_a_storage_cluster_reads_px_vault_in_its_own_namespace_or_where_the_profile_says() -> None:
    cluster_obj = px_shapes.helm_storage_cluster()
    cluster = caches({"portworx/px-vault": PX_VAULT}, "portworx")

    _, default = run(cluster_obj, cluster)
    result, elsewhere = run(
        cluster_obj,
        cluster,
        config("{secret: px-vault, secretNamespace: vault-secrets}", "portworx-operator"),
    )

    assert px_vault_refs(default)
    assert c.PX_SECRETS_NAMESPACE_ENV not in env_of(default)
    assert px_vault_refs(elsewhere) == []
    assert env_of(elsewhere)[c.PX_SECRETS_NAMESPACE_ENV] == "vault-secrets"
    assert result.warnings[0] == (
        "Portworx reads vault-secrets/px-vault itself, no env added: portworx/portworx needs get "
        "on it (a Role in vault-secrets)"
    )


# --- the operator's own pods ----------------------------------------------------------------------


def _rendered(mutator: Any = BUILTIN, **pod: bool) -> dict[str, Any]:
    """A pod the operator renders from a StorageCluster the webhook mutated (with a TLS
    Secret, so the pod carries ``user-vsi-vault-tls``)."""
    _, storage_cluster = run(px_shapes.helm_storage_cluster(provider=None), None, mutator)
    return px_shapes.operator_pod(storage_cluster, **pod)


TLS = "{secret: px-vault, tlsSecret: vault-ca}"


@pytest.mark.parametrize(
    "mutator",
    [
        BUILTIN,
        build_mutator(
            parse_config(
                f"profiles: [{{name: pxo, type: portworx-operator, connection: {TLS}}}]",
                source="p.yaml",
            )
        ),
    ],
    ids=["built-in profiles", "only portworx-operator configured"],
)
@pytest.mark.parametrize(("labels", "owner"), [(True, True), (True, False), (False, True)])
def test_a_pod_the_operator_renders_from_a_mutated_storage_cluster_is_left_alone_silently(
    mutator: Any, labels: bool, owner: bool
) -> None:
    pod = _rendered(
        build_mutator(
            parse_config(
                f"profiles: [{{name: pxo, type: portworx-operator, connection: {TLS}}}]",
                source="p.yaml",
            )
        ),
        labels=labels,
        owner=owner,
    )
    assert any(v["name"] == "user-vsi-vault-tls" for v in pod["spec"]["volumes"])

    result, _ = run(pod, None, mutator)

    assert (result.outcome, result.reason, list(result.ops)) == (
        "skipped",
        c.SKIP_OPERATOR_MANAGED,
        [],
    )
    assert result.warnings == ()


def test_an_operator_pod_without_its_storage_clusters_vault_settings_is_warned_about() -> None:
    pod = px_shapes.operator_pod(px_shapes.helm_storage_cluster(provider="k8s"))

    result, _ = run(pod)

    assert (result.reason, list(result.ops)) == (c.SKIP_OPERATOR_MANAGED, [])
    assert result.warnings == (
        "-secret_type k8s from StorageCluster px-cluster: it needs secretsProvider: vault; "
        "Vault settings not added",
    )


def test_a_daemonsets_own_pod_is_still_the_portworx_rules() -> None:
    daemonset = px_shapes.spec_generator_daemonset(secret_type=None, namespace="portworx")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "portworx-x1",
            "namespace": "portworx",
            "labels": {"name": "portworx"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "p", "uid": "1-2-3"}
            ],
        },
        "spec": daemonset["spec"]["template"]["spec"],
    }

    result, mutated = run(pod)

    assert result.outcome == "mutated"
    assert px_vault_refs(mutated)


# --- a refused switch -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "first"),
    [
        (
            px_shapes.spec_generator_daemonset(),
            "container portworx sets -secret_type k8s; Vault settings not added",
        ),
        (
            px_shapes.helm_storage_cluster(provider="k8s"),
            "StorageCluster sets secretsProvider k8s; Vault settings not added",
        ),
    ],
    ids=["spec generator DaemonSet", "Helm chart StorageCluster"],
)
def test_a_refused_switch_says_what_is_stored_where_and_what_to_do(
    obj: dict[str, Any], first: str
) -> None:
    result, _ = run(obj)

    assert (result.reason, list(result.ops)) == (c.SKIP_CONFLICT, [])
    assert result.warnings == (
        first,
        "its volume keys so far are Kubernetes Secrets in portworx (px-vol-encryption, one per "
        "volume)",
        "Portworx documents no move of stored keys to Vault: switch by hand only a cluster "
        "without encrypted volumes",
        'or keep k8s and silence this: annotate vault-storage-injector.io/inject: "false"',
    )


def test_the_opt_out_the_warning_names_silences_it() -> None:
    daemonset = px_shapes.spec_generator_daemonset()
    daemonset["metadata"]["annotations"][c.ANNOTATION_INJECT] = c.INJECT_FALSE

    result, _ = run(daemonset)

    assert (result.reason, result.warnings) == (c.SKIP_OPTED_OUT, ())


def test_another_provider_is_named_with_where_its_keys_are() -> None:
    env = [{"name": c.PX_SECRETS_NAMESPACE_ENV, "value": "px-keys"}]
    k8s = px_shapes.spec_generator_daemonset(env=env)
    aws = px_shapes.spec_generator_daemonset(secret_type="aws-kms")

    k8s_result, _ = run(k8s)
    aws_result, _ = run(aws)

    assert "Kubernetes Secrets in px-keys" in k8s_result.warnings[1]
    assert aws_result.warnings[1] == "its volume keys so far are with its aws-kms provider"
