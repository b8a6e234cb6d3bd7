"""Rules for every mutation: scope, idempotency, ownership, security context and warnings."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch

from tests.unit.webhook.support import GOLDEN, StaticCluster, context_from_review, validate
from webhook import constants as c
from webhook.model import AdmissionContext, MutationResult
from webhook.mutation import build_mutator
from webhook.profiles import load_config, parse_config

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
    obj, ctx = _case("portworx-daemonset")
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "VAULT_BACKEND_PATH", "value": "px-keys"})
    out = _apply(obj, MUTATOR(obj, ctx))
    env = out["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e for e in env if e["name"] == "VAULT_BACKEND_PATH"] == [
        {"name": "VAULT_BACKEND_PATH", "value": "px-keys"}
    ]


def test_existing_secret_type_vault_gets_env_but_no_second_flag() -> None:
    obj, ctx = _case("portworx-daemonset")
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["args"] += ["-secret_type=vault"]
    out = _apply(obj, MUTATOR(obj, ctx))
    args = out["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == container["args"]


def test_missing_lists_are_added_whole_never_below_a_missing_parent() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "px", "namespace": "kube-system"},
        "spec": {"containers": [{"name": "portworx", "image": "portworx/oci-monitor:3.1.6"}]},
    }
    ctx = AdmissionContext("CREATE", "kube-system", "", "v1", "Pod")
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
    obj, ctx = _case("portworx-daemonset")
    cluster = StaticCluster(secrets={"kube-system/px-vault": ["VAULT_TOKEN"]})
    result = MUTATOR(obj, _ctx(ctx, cluster=cluster))
    assert list(result.warnings) == [
        "Secret px-vault in namespace kube-system has no key VAULT_ADDR"
    ]
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
        "StorageCluster sets secretsProvider k8s; Vault settings not added"
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
            "secret": {"secretName": "px-tls"},
        }
    ]
    env = {e["name"]: e for e in out["spec"]["env"]}
    assert env["VAULT_CACERT"] == {"name": "VAULT_CACERT", "value": f"{c.TLS_MOUNT_PATH}/ca.crt"}


def test_mutator_does_not_modify_its_input() -> None:
    obj, ctx = _case("rook-osd-secret-seed")
    before = copy.deepcopy(obj)
    MUTATOR(obj, ctx)
    assert obj == before
