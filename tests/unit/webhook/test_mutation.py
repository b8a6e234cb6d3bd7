"""Rules for every mutation: scope, idempotency, ownership, security context and warnings."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch

from tests.unit.webhook.support import GOLDEN, StaticCluster, context_from_review, validate
from webhook.core import constants as c
from webhook.core.config import load_config, parse_config
from webhook.core.model import AdmissionContext, MutationResult
from webhook.core.mutation import build_mutator

MUTATOR = build_mutator(load_config(None))


def _case(name: str) -> tuple[dict[str, Any], AdmissionContext]:
    review = json.loads((GOLDEN / name / "request.json").read_text())
    return review["request"]["object"], context_from_review(review, None)


def _apply(obj: dict[str, Any], result: MutationResult) -> dict[str, Any]:
    out: dict[str, Any] = jsonpatch.apply_patch(obj, list(result.ops))
    return out


def _ctx(ctx: AdmissionContext, **changes: Any) -> AdmissionContext:
    data = dict(ctx.__dict__)
    data.update(changes)
    return AdmissionContext(**data)


def _px_case(name: str) -> tuple[dict[str, Any], AdmissionContext]:
    """A Portworx golden case moved into the portworx namespace, where Portworx reads its
    px-vault by default: the env entries of the profile reach it there."""
    obj, ctx = _case(name)
    obj["metadata"]["namespace"] = c.PX_DAEMONSET_SECRETS_NAMESPACE
    return obj, _ctx(ctx, namespace=c.PX_DAEMONSET_SECRETS_NAMESPACE)


def test_delete_and_connect_are_skipped_as_operation() -> None:
    obj, ctx = _case("portworx-daemonset")
    for op in ("DELETE", "CONNECT"):
        assert MUTATOR(obj, _ctx(ctx, operation=op)).reason == c.SKIP_OPERATION


def test_pod_update_is_skipped_as_operation_but_daemonset_update_is_mutated() -> None:
    pod, pod_ctx = _case("rook-osd-secret-seed")
    assert MUTATOR(pod, _ctx(pod_ctx, operation="UPDATE")).reason == c.SKIP_OPERATION
    ds, ds_ctx = _case("portworx-daemonset")
    assert MUTATOR(ds, _ctx(ds_ctx, operation="UPDATE")).outcome == "mutated"


def test_empty_object_is_skipped_as_no_object() -> None:
    _, ctx = _case("portworx-daemonset")
    assert MUTATOR({}, ctx).reason == c.SKIP_NO_OBJECT


def test_dry_run_does_not_change_the_result() -> None:
    obj, ctx = _case("rook-osd-secret-seed")
    assert MUTATOR(obj, ctx) == MUTATOR(obj, _ctx(ctx, dry_run=True))


def test_unknown_namespace_labels_trust_the_apiserver_selector() -> None:
    obj, ctx = _case("volume-keys-pod")
    assert MUTATOR(obj, _ctx(ctx, cluster=StaticCluster(watched=False))).outcome == "mutated"


def test_preview_flag_overrides_a_namespace_without_the_label() -> None:
    obj, ctx = _case("volume-keys-pod")
    cluster = StaticCluster(namespaces={"databases": {}})
    assert MUTATOR(obj, _ctx(ctx, cluster=cluster)).reason == c.SKIP_NAMESPACE_NOT_ENABLED
    assert (
        MUTATOR(obj, _ctx(ctx, cluster=cluster, assume_namespace_enabled=True)).outcome == "mutated"
    )


def test_pod_without_inject_annotation_or_rook_labels_matches_no_profile() -> None:
    obj, ctx = _case("volume-keys-pod")
    del obj["metadata"]["annotations"]
    assert MUTATOR(obj, ctx) == MutationResult(outcome="skipped", reason=c.SKIP_NO_PROFILE)


def test_profile_annotation_of_a_wrong_type_is_skipped_with_a_warning() -> None:
    obj, ctx = _case("volume-keys-pod")
    obj["metadata"]["annotations"][c.ANNOTATION_PROFILE] = "portworx"
    result = MUTATOR(obj, ctx)
    assert (result.outcome, result.reason) == ("skipped", c.SKIP_NO_PROFILE)
    assert list(result.warnings) == [
        "profile 'portworx' (portworx) does not apply to this Pod; object left unchanged"
    ]


def test_profile_annotation_chooses_among_configured_profiles() -> None:
    config = parse_config(
        "profiles: [{name: east, type: volume-keys, connection: {secret: vault-east}}]", source="t"
    )
    obj, ctx = _case("volume-keys-pod")
    obj["metadata"]["annotations"][c.ANNOTATION_PROFILE] = "volume-keys"
    result = build_mutator(config)(obj, ctx)
    assert result.profile == "volume-keys"
    env = _apply(obj, result)["spec"]["initContainers"][0]["env"]
    assert {
        "name": "VAULT_ADDR",
        "valueFrom": {"secretKeyRef": {"name": "vsi-vault", "key": "VAULT_ADDR"}},
    } in env
    del obj["metadata"]["annotations"][c.ANNOTATION_PROFILE]
    assert build_mutator(config)(obj, ctx).profile == "east"


def test_reinvocation_after_another_webhook_added_containers_adds_no_duplicates() -> None:
    obj, ctx = _case("rook-osd-secret-seed")
    first = _apply(obj, MUTATOR(obj, ctx))
    first["spec"]["initContainers"].insert(
        0, {"name": "istio-init", "image": "istio/proxyv2:1.22.0"}
    )
    first["spec"]["containers"].append({"name": "istio-proxy", "image": "istio/proxyv2:1.22.0"})
    first["spec"]["volumes"].append({"name": "istio-envoy", "emptyDir": {"medium": "Memory"}})
    result = MUTATOR(first, ctx)
    assert (result.outcome, result.reason, list(result.ops)) == (
        "skipped",
        c.SKIP_ALREADY_INJECTED,
        [],
    )


def test_env_entry_set_by_hand_is_left_alone() -> None:
    obj, ctx = _px_case("portworx-daemonset")
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "VAULT_BACKEND_PATH", "value": "px-keys"})
    out = _apply(obj, MUTATOR(obj, ctx))
    env = out["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e for e in env if e["name"] == "VAULT_BACKEND_PATH"] == [
        {"name": "VAULT_BACKEND_PATH", "value": "px-keys"}
    ]


def test_existing_secret_type_vault_gets_env_but_no_second_flag() -> None:
    obj, ctx = _px_case("portworx-daemonset")
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["args"] += ["-secret_type=vault"]
    out = _apply(obj, MUTATOR(obj, ctx))
    args = out["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == container["args"]


def test_missing_lists_are_added_whole_never_below_a_missing_parent() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "px", "namespace": "portworx"},
        "spec": {"containers": [{"name": "portworx", "image": "portworx/oci-monitor:3.1.6"}]},
    }
    ctx = AdmissionContext("CREATE", "portworx", "", "v1", "Pod")
    result = MUTATOR(pod, ctx)
    paths = [op["path"] for op in result.ops]
    assert paths == ["/spec/containers/0/env", "/spec/containers/0/args", "/metadata/annotations"]
    validate(_apply(pod, result))


def test_injected_container_has_the_restricted_security_context_and_small_resources() -> None:
    obj, ctx = _case("rook-osd-secret-seed")
    out = _apply(obj, MUTATOR(obj, ctx))
    injector = out["spec"]["initContainers"][1]
    assert injector["name"] == c.INJECTOR_CONTAINER_NAME
    assert out["spec"]["initContainers"][2]["name"] == "encryption-open"
    assert injector["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": c.DEFAULT_RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert injector["resources"] == {
        "limits": {"cpu": "200m", "memory": "128Mi"},
        "requests": {"cpu": "10m", "memory": "32Mi"},
    }
    assert injector["command"] == ["vsi-injector"]
    assert "args" not in injector


def test_rook_seed_secret_is_mounted_read_only_into_the_injector_only() -> None:
    obj, ctx = _case("rook-osd-secret-seed")
    out = _apply(obj, MUTATOR(obj, ctx))
    seed_users = [
        ct["name"]
        for ct in out["spec"]["initContainers"] + out["spec"]["containers"]
        if any(m["name"] == c.SEED_VOLUME_NAME for m in ct.get("volumeMounts", []))
    ]
    assert seed_users == [c.INJECTOR_CONTAINER_NAME]
    key_volume = next(v for v in out["spec"]["volumes"] if v["name"] == c.ROOK_KEY_VOLUME)
    assert key_volume == {
        "name": c.ROOK_KEY_VOLUME,
        "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"},
    }


def test_fs_group_without_a_user_makes_the_injector_write_group_readable_files() -> None:
    obj, ctx = _case("volume-keys-pod")
    obj["spec"]["securityContext"] = {"fsGroup": 2000}
    out = _apply(obj, MUTATOR(obj, ctx))
    injector = out["spec"]["initContainers"][0]
    env = {e["name"]: e.get("value") for e in injector["env"]}
    assert env["VSI_FILE_OWNER"] == f"{c.DEFAULT_RUN_AS_USER}:2000"
    assert env["VSI_FILE_GROUP_READABLE"] == "true"
    assert injector["securityContext"]["runAsUser"] == c.DEFAULT_RUN_AS_USER


def test_container_level_user_is_used_when_all_consumers_share_it() -> None:
    obj, ctx = _case("volume-keys-pod")
    obj["spec"]["securityContext"] = {}
    obj["spec"]["containers"][0]["securityContext"] = {"runAsUser": 1234}
    out = _apply(obj, MUTATOR(obj, ctx))
    injector = out["spec"]["initContainers"][0]
    assert injector["securityContext"]["runAsUser"] == 1234
    assert {"name": "VSI_FILE_OWNER", "value": "1234"} in injector["env"]


def test_volume_keys_warns_when_only_root_could_read_the_keys() -> None:
    obj, ctx = _case("volume-keys-pod")
    obj["spec"]["securityContext"] = {}
    result = MUTATOR(obj, ctx)
    assert list(result.warnings) == [
        "pod names no non-root user or fsGroup; key files are readable by root only"
    ]


def test_secret_without_vault_addr_gives_a_warning_of_at_most_120_chars() -> None:
    obj, ctx = _px_case("portworx-daemonset")
    cluster = StaticCluster(secrets={"portworx/px-vault": ["VAULT_TOKEN"]})
    result = MUTATOR(obj, _ctx(ctx, cluster=cluster))
    assert list(result.warnings) == ["Secret px-vault in namespace portworx has no key VAULT_ADDR"]
    long_ns = "n" * 63
    result = MUTATOR(obj, _ctx(ctx, namespace=long_ns, cluster=StaticCluster()))
    assert all(
        len(w) <= c.MAX_WARNING_LENGTH and not w.startswith("Warning") for w in result.warnings
    )
    assert result.warnings[0].endswith("...")


def test_storagecluster_with_another_provider_is_a_conflict() -> None:
    obj, ctx = _case("storagecluster")
    obj["spec"]["secretsProvider"] = "k8s"
    result = MUTATOR(obj, ctx)
    assert (result.reason, list(result.ops)) == (c.SKIP_CONFLICT, [])
    assert list(result.warnings) == [
        "StorageCluster sets secretsProvider k8s; Vault settings not added",
        "its volume keys so far are Kubernetes Secrets in portworx (px-vol-encryption, one per "
        "volume)",
        "Portworx documents no move of stored keys to Vault: switch by hand only a cluster "
        "without encrypted volumes",
        'or keep k8s and silence this: annotate vault-storage-injector.io/inject: "false"',
    ]


def test_storagecluster_tls_secret_becomes_an_operator_volume() -> None:
    config = parse_config(
        "profiles: [{name: px, type: portworx-operator,"
        " connection: {secret: px-vault, tlsSecret: px-tls}}]",
        source="t",
    )
    obj, ctx = _case("storagecluster")
    out = _apply(obj, build_mutator(config)(obj, ctx))
    assert out["spec"]["volumes"] == [
        {
            "name": c.TLS_VOLUME_NAME,
            "mountPath": c.TLS_MOUNT_PATH,
            "readOnly": True,
            "projected": {
                "defaultMode": 0o444,
                "sources": [
                    {"secret": {"name": "px-tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}
                ],
            },
        }
    ]
    env = {e["name"]: e for e in out["spec"]["env"]}
    assert env["VAULT_CACERT"] == {"name": "VAULT_CACERT", "value": f"{c.TLS_MOUNT_PATH}/ca.crt"}
    # No cache, no declaration of the pair: the CA alone, never paths to files that may not exist.
    assert "VAULT_CLIENT_CERT" not in env
    assert "VAULT_CLIENT_KEY" not in env


def test_mutator_does_not_modify_its_input() -> None:
    obj, ctx = _case("rook-osd-secret-seed")
    before = copy.deepcopy(obj)
    MUTATOR(obj, ctx)
    assert obj == before


TLS_CONFIG = parse_config(
    "profiles: ["
    + ", ".join(
        f"{{name: tls-{kind}, type: {kind}, connection: {{secret: vault, tlsSecret: vault-tls}}}}"
        for kind in c.PROFILE_TYPES
    )
    + "]",
    source="t",
)
TLS_MUTATOR = build_mutator(TLS_CONFIG)


def _skip(result: MutationResult) -> tuple[str, str, list[Any], list[str]]:
    return result.outcome, result.reason, list(result.ops), list(result.warnings)


# --- malformed input (finding: the mutator must never raise) --------------------------------------


def test_storagecluster_env_name_that_is_a_mapping_is_foreign_and_our_entries_are_added() -> None:
    obj, ctx = _case("storagecluster")
    obj["spec"]["env"] = [{"name": {"a": 1}}, {"name": ["VAULT_ADDR"], "value": "x"}]
    result = MUTATOR(obj, ctx)
    assert result.outcome == "mutated"
    env = _apply(obj, result)["spec"]["env"]
    assert env[:2] == obj["spec"]["env"]
    assert [e["name"] for e in env[2:]][:1] == ["VAULT_ADDR"]


def test_pod_env_name_that_is_a_list_does_not_crash_the_portworx_profile() -> None:
    obj, ctx = _case("portworx-pod")
    obj["spec"]["containers"][0]["env"] = [{"name": ["VAULT_ADDR"]}, "junk"]
    result = MUTATOR(obj, ctx)
    assert result.outcome == "mutated"
    _apply(obj, result)


def test_malformed_uids_count_as_unset() -> None:
    obj, ctx = _case("volume-keys-pod")
    obj["spec"]["securityContext"] = {"runAsUser": {"x": 1}, "fsGroup": [2]}
    obj["spec"]["containers"][0]["securityContext"] = {"runAsGroup": ["g"]}
    injector = _apply(obj, MUTATOR(obj, ctx))["spec"]["initContainers"][0]
    assert injector["securityContext"]["runAsUser"] == c.DEFAULT_RUN_AS_USER


def test_a_list_the_patch_must_extend_holding_something_else_is_malformed_not_overwritten() -> None:
    obj, ctx = _case("storagecluster")
    obj["spec"]["env"] = "VAULT_ADDR=https://vault:8200"
    assert _skip(MUTATOR(obj, ctx)) == (
        "skipped",
        c.SKIP_MALFORMED,
        [],
        ["/spec/env is not a list; object left unchanged"],
    )
    pod, pod_ctx = _case("portworx-pod")
    pod["spec"]["containers"][0]["args"] = {"-secret_type": "vault"}
    assert _skip(MUTATOR(pod, pod_ctx))[1:3] == (c.SKIP_MALFORMED, [])


def test_storagecluster_spec_that_is_not_a_mapping_is_malformed_and_a_null_spec_is_filled() -> None:
    obj, ctx = _case("storagecluster")
    obj["spec"] = ["not", "a", "spec"]
    assert _skip(MUTATOR(obj, ctx)) == (
        "skipped",
        c.SKIP_MALFORMED,
        [],
        ["spec is not a mapping; object left unchanged"],
    )
    obj["spec"] = None
    out = _apply(obj, MUTATOR(obj, ctx))
    assert out["spec"]["secretsProvider"] == c.SECRET_TYPE_VAULT


def test_null_metadata_gets_metadata_added_whole_and_junk_annotations_are_malformed() -> None:
    obj, ctx = _case("storagecluster")
    obj["metadata"] = None
    out = _apply(obj, MUTATOR(obj, ctx))
    assert out["metadata"] == {"annotations": {c.ANNOTATION_STATUS: c.STATUS_INJECTED}}
    obj["metadata"] = {"name": "px", "annotations": ["x"]}
    assert _skip(MUTATOR(obj, ctx)) == (
        "skipped",
        c.SKIP_MALFORMED,
        [],
        ["metadata.annotations is not a mapping; object left unchanged"],
    )


def test_a_pod_spec_with_a_template_is_still_patched_at_spec() -> None:
    obj, ctx = _case("portworx-pod")
    obj["spec"]["template"] = {"spec": {}}
    result = MUTATOR(obj, ctx)
    assert all(op["path"].startswith(("/spec/containers/", "/metadata")) for op in result.ops)
    _apply(obj, result)


# --- volumes of ours that already exist (never reuse a foreign source) ----------------------------


def test_volume_keys_pod_whose_vsi_keys_volume_is_a_pvc_is_a_conflict() -> None:
    obj, ctx = _case("volume-keys-pod")
    obj["spec"]["volumes"].append(
        {"name": c.KEY_VOLUME_NAME, "persistentVolumeClaim": {"claimName": "disk"}}
    )
    assert _skip(MUTATOR(obj, ctx)) == (
        "skipped",
        c.SKIP_CONFLICT,
        [],
        ["volume vsi-keys exists but is not an emptyDir with medium Memory; object left unchanged"],
    )
    obj["spec"]["volumes"][-1] = {"name": c.KEY_VOLUME_NAME, "emptyDir": {}}
    assert MUTATOR(obj, ctx).reason == c.SKIP_CONFLICT


def test_existing_in_memory_vsi_keys_volume_is_reused() -> None:
    obj, ctx = _case("volume-keys-pod")
    ours = {"name": c.KEY_VOLUME_NAME, "emptyDir": {"medium": "Memory", "sizeLimit": "4Mi"}}
    obj["spec"]["volumes"].append(ours)
    out = _apply(obj, MUTATOR(obj, ctx))
    assert [v for v in out["spec"]["volumes"] if v["name"] == c.KEY_VOLUME_NAME] == [ours]
    assert out["spec"]["initContainers"][0]["name"] == c.INJECTOR_CONTAINER_NAME


def test_tls_volume_that_is_not_the_profiles_secret_is_a_conflict_for_every_pod_type() -> None:
    foreign = {"name": c.TLS_VOLUME_NAME, "secret": {"secretName": "someone-elses"}}
    for case in ("portworx-pod", "portworx-daemonset", "rook-osd-secret-seed", "volume-keys-pod"):
        obj, ctx = _case(case)
        spec = obj["spec"]["template"]["spec"] if obj["kind"] == "DaemonSet" else obj["spec"]
        spec.setdefault("volumes", []).append(foreign)
        assert _skip(TLS_MUTATOR(obj, ctx)) == (
            "skipped",
            c.SKIP_CONFLICT,
            [],
            [
                "volume vsi-vault-tls exists but is not a projection of Secret vault-tls; "
                "object left unchanged"
            ],
        ), case
        ours = {"secret": {"name": "vault-tls", "items": [{"key": "tls.crt", "path": "tls.crt"}]}}
        spec["volumes"][-1] = {"name": c.TLS_VOLUME_NAME, "projected": {"sources": [ours]}}
        assert TLS_MUTATOR(obj, ctx).outcome == "mutated", case


def test_storagecluster_tls_volume_of_another_secret_or_path_is_a_conflict() -> None:
    obj, ctx = _case("storagecluster")
    obj["spec"]["volumes"] = [
        {
            "name": c.TLS_VOLUME_NAME,
            "mountPath": "/etc/pwx/tls",
            "projected": {"sources": [{"secret": {"name": "vault-tls"}}]},
        }
    ]
    result = TLS_MUTATOR(obj, ctx)
    assert (result.reason, list(result.ops)) == (c.SKIP_CONFLICT, [])
    assert "vsi-vault-tls" in result.warnings[0]
    obj["spec"]["volumes"] = [
        {"name": "certs", "mountPath": c.TLS_MOUNT_PATH, "hostPath": {"path": "/etc/pki"}}
    ]
    assert TLS_MUTATOR(obj, ctx).reason == c.SKIP_CONFLICT


def test_rook_seed_volume_of_another_secret_is_a_conflict_and_never_mounted() -> None:
    obj, ctx = _case("rook-osd-secret-seed")
    obj["spec"]["volumes"].append(
        {"name": c.SEED_VOLUME_NAME, "secret": {"secretName": "rook-ceph-osd-encryption-key-other"}}
    )
    assert _skip(MUTATOR(obj, ctx)) == (
        "skipped",
        c.SKIP_CONFLICT,
        [],
        [
            "volume vsi-rook-seed exists but is not Secret "
            "rook-ceph-osd-encryption-key-set1-data-0-8n462; object left unchanged"
        ],
    )
    obj["spec"]["volumes"][-1] = {"name": c.SEED_VOLUME_NAME, "emptyDir": {"medium": "Memory"}}
    assert MUTATOR(obj, ctx).reason == c.SKIP_CONFLICT


def test_rook_key_volume_secret_without_a_name_is_malformed() -> None:
    obj, ctx = _case("rook-osd-secret-seed")
    key = next(v for v in obj["spec"]["volumes"] if v["name"] == c.ROOK_KEY_VOLUME)
    del key["secret"]["secretName"]
    assert _skip(MUTATOR(obj, ctx))[1:3] == (c.SKIP_MALFORMED, [])


def test_reinvocation_with_a_tls_profile_is_empty_for_every_pod_type() -> None:
    for case in ("portworx-pod", "portworx-daemonset", "rook-osd-secret-seed", "volume-keys-pod"):
        obj, ctx = _case(case)
        first = _apply(obj, TLS_MUTATOR(obj, ctx))
        again = TLS_MUTATOR(first, ctx)
        assert (again.reason, list(again.ops)) == (c.SKIP_ALREADY_INJECTED, []), case


# --- duplicate mount paths ------------------------------------------------------------------------


def test_portworx_container_mounting_something_else_at_the_tls_path_is_a_conflict() -> None:
    obj, ctx = _case("portworx-pod")
    obj["spec"]["containers"][0]["volumeMounts"].append(
        {"name": "etcpwx", "mountPath": c.TLS_MOUNT_PATH + "/"}
    )
    assert _skip(TLS_MUTATOR(obj, ctx)) == (
        "skipped",
        c.SKIP_CONFLICT,
        [],
        [f"container portworx already mounts etcpwx at {c.TLS_MOUNT_PATH}; object left unchanged"],
    )


def test_volume_keys_container_mounting_something_else_at_the_key_path_is_a_conflict() -> None:
    obj, ctx = _case("volume-keys-pod")
    obj["spec"]["containers"][0]["volumeMounts"].append(
        {"name": "data", "mountPath": c.DEFAULT_KEY_MOUNT_PATH, "subPath": "keys"}
    )
    assert _skip(MUTATOR(obj, ctx)) == (
        "skipped",
        c.SKIP_CONFLICT,
        [],
        [
            f"container postgres already mounts data at {c.DEFAULT_KEY_MOUNT_PATH}; "
            "object left unchanged"
        ],
    )


# --- the Rook PVC label must name one of the pod's PVCs -------------------------------------------


def test_rook_pvc_label_naming_no_pvc_of_the_pod_is_a_conflict() -> None:
    obj, ctx = _case("rook-osd-secret-seed")
    obj["metadata"]["labels"][c.ROOK_PVC_LABEL] = "set1-data-1-other"
    assert _skip(MUTATOR(obj, ctx)) == (
        "skipped",
        c.SKIP_CONFLICT,
        [],
        [
            "label ceph.rook.io/pvc set1-data-1-other names none of the pod's PVC volumes; "
            "pod left unchanged"
        ],
    )
    obj["metadata"]["labels"][c.ROOK_PVC_LABEL] = {"name": "set1-data-0-8n462"}
    assert MUTATOR(obj, ctx).reason == c.SKIP_CONFLICT


def test_rook_pvc_label_matching_a_claim_name_not_a_volume_name_is_injected() -> None:
    obj, ctx = _case("rook-osd-secret-seed")
    pvc = next(v for v in obj["spec"]["volumes"] if "persistentVolumeClaim" in v)
    pvc["name"] = "data"
    out = _apply(obj, MUTATOR(obj, ctx))
    env = {e["name"]: e.get("value") for e in out["spec"]["initContainers"][1]["env"]}
    assert env["VSI_VOLUMES"] == "set1-data-0-8n462"


def _mounts_key_volume(container: dict[str, Any]) -> bool:
    return any(m["name"] == c.KEY_VOLUME_NAME for m in container.get("volumeMounts", []))


def test_volume_keys_mount_the_keys_only_into_containers_that_use_a_pvc() -> None:
    obj, ctx = _case("volume-keys-pod")
    obj = copy.deepcopy(obj)
    obj["spec"]["containers"].append({"name": "log-shipper", "image": "fluent-bit:3.1"})
    obj["spec"]["containers"].append(
        {
            "name": "raw-reader",
            "image": "busybox:1.36",
            "volumeDevices": [{"name": "data", "devicePath": "/dev/data"}],
        }
    )
    mutated = _apply(obj, MUTATOR(obj, ctx))
    by_name = {ct["name"]: ct for ct in mutated["spec"]["containers"]}
    assert _mounts_key_volume(by_name["postgres"])
    assert _mounts_key_volume(by_name["raw-reader"])
    assert not _mounts_key_volume(by_name["log-shipper"])
    validate(mutated)


def test_a_sidecar_added_by_another_webhook_gets_no_keys_on_reinvocation() -> None:
    obj, ctx = _case("volume-keys-pod")
    mutated = _apply(obj, MUTATOR(obj, ctx))
    mutated["spec"]["containers"].append({"name": "istio-proxy", "image": "proxyv2:1.23"})
    again = MUTATOR(mutated, ctx)
    assert again.reason == c.SKIP_ALREADY_INJECTED
    assert list(again.ops) == []


def test_a_pod_whose_containers_use_no_pvc_is_warned_that_keys_are_mounted_nowhere() -> None:
    obj, ctx = _case("volume-keys-pod")
    obj = copy.deepcopy(obj)
    for container in obj["spec"]["containers"]:
        container["volumeMounts"] = [
            m for m in container.get("volumeMounts", []) if m["name"] != "data"
        ]
    result = MUTATOR(obj, ctx)
    assert result.outcome == "mutated"
    assert any("mounted nowhere" in w for w in result.warnings)
    mutated = _apply(obj, result)
    assert not any(_mounts_key_volume(ct) for ct in mutated["spec"]["containers"])


def _injector(obj: dict[str, Any]) -> dict[str, Any]:
    injector: dict[str, Any] = next(
        ic for ic in obj["spec"]["initContainers"] if ic["name"] == c.INJECTOR_CONTAINER_NAME
    )
    return injector


def test_env_ops_built_once_per_profile_are_not_shared_between_answers() -> None:
    obj, ctx = _px_case("portworx-daemonset")
    mutator = build_mutator(load_config(None))
    first = mutator(obj, ctx)
    pristine = copy.deepcopy(list(first.ops))
    assert isinstance(first.ops, list)
    first.ops.append({"op": "add", "path": "/metadata/labels", "value": {}})
    second = mutator(copy.deepcopy(obj), ctx)
    assert list(second.ops) == pristine
    env_ops = [op for op in second.ops if op["path"].endswith("/env/-")]
    assert len(env_ops) > 1
    assert {op["path"] for op in env_ops} == {"/spec/template/spec/containers/0/env/-"}
    assert "VAULT_ADDR" in {op["value"]["name"] for op in env_ops}


def test_a_container_with_some_of_the_env_gets_only_the_rest() -> None:
    obj, ctx = _px_case("portworx-daemonset")
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container.setdefault("env", []).append({"name": "VAULT_ADDR", "value": "https://mine:8200"})
    result = MUTATOR(obj, ctx)
    added = [op["value"]["name"] for op in result.ops if op["path"].endswith("/env/-")]
    assert "VAULT_ADDR" not in added
    assert added
    mutated = _apply(obj, result)
    env = mutated["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e for e in env if e["name"] == "VAULT_ADDR"] == [
        {"name": "VAULT_ADDR", "value": "https://mine:8200"}
    ]
