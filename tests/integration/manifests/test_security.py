"""Security of the built manifests: restricted pods, least-privilege RBAC, a safe webhook."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.manifests.conftest import (
    MANIFESTS,
    OPT_IN_LABEL,
    WEBHOOK_NAMESPACE,
    Obj,
    pod_templates,
    selector_matches,
)

INJECT_ANNOTATION = "vault-storage-injector.io/inject"
TLS_SECRET = "vault-storage-injector-tls"
CA_SECRET = "vault-storage-injector-ca"
EXPECTED_RULES = {
    ("", "v1", "pods", "CREATE"),
    ("apps", "v1", "daemonsets", "CREATE"),
    ("apps", "v1", "daemonsets", "UPDATE"),
    ("core.libopenstorage.org", "v1", "storageclusters", "CREATE"),
    ("core.libopenstorage.org", "v1", "storageclusters", "UPDATE"),
}


def effective(pod: Obj, container: Obj, field: str) -> Any:
    """A securityContext field as the kubelet applies it: the container's, else the pod's."""
    value = container.get("securityContext", {}).get(field)
    return pod.get("securityContext", {}).get(field) if value is None else value


def test_every_built_object_has_been_checked_for_pods(all_objects: list[Obj]) -> None:
    kinds = {where.split("/")[0] for where, _ in pod_templates(all_objects)}
    assert kinds == {"Deployment", "Job", "CronJob"}


def test_every_container_meets_the_restricted_pod_security_standard(
    all_objects: list[Obj],
) -> None:
    for where, pod in pod_templates(all_objects):
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(key), f"{where}: {key}"
        assert not [v for v in pod.get("volumes", []) if "hostPath" in v], f"{where}: hostPath"
        for container in pod.get("initContainers", []) + pod["containers"]:
            at = f"{where} container {container['name']}"
            ctx = container.get("securityContext", {})
            assert ctx.get("allowPrivilegeEscalation") is False, at
            assert ctx.get("readOnlyRootFilesystem") is True, at
            assert ctx.get("privileged") in (None, False), at
            assert ctx.get("capabilities", {}).get("drop") == ["ALL"], at
            assert not ctx.get("capabilities", {}).get("add"), at
            assert effective(pod, container, "runAsNonRoot") is True, at
            uid = effective(pod, container, "runAsUser")
            assert isinstance(uid, int), f"{at}: runAsUser must be numeric"
            assert uid > 0, at
            assert effective(pod, container, "seccompProfile") == {"type": "RuntimeDefault"}, at


def test_every_container_has_requests_and_limits(all_objects: list[Obj]) -> None:
    for where, pod in pod_templates(all_objects):
        for container in pod.get("initContainers", []) + pod["containers"]:
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), where
            assert "memory" in resources.get("limits", {}), where


def test_no_cluster_role_grants_secrets(all_objects: list[Obj]) -> None:
    cluster_roles = [o for o in all_objects if o["kind"] == "ClusterRole"]
    assert cluster_roles
    for role in cluster_roles:
        for rule in role.get("rules", []):
            assert "secrets" not in rule.get("resources", []), role["metadata"]["name"]


def test_no_rbac_rule_uses_a_wildcard(all_objects: list[Obj]) -> None:
    for role in (o for o in all_objects if o["kind"] in {"Role", "ClusterRole"}):
        for rule in role.get("rules", []):
            for field in ("verbs", "resources", "apiGroups", "resourceNames"):
                assert not [v for v in rule.get(field, []) if "*" in v], (
                    f"{role['kind']}/{role['metadata']['name']}: wildcard in {field}"
                )


def test_secret_rules_never_create_are_by_name_at_home_and_read_only_elsewhere(
    all_objects: list[Obj],
) -> None:
    for role in (o for o in all_objects if o["kind"] == "Role"):
        namespace = role["metadata"]["namespace"]
        for rule in role["rules"]:
            if "secrets" not in rule["resources"]:
                continue
            verbs = set(rule["verbs"])
            assert "create" not in verbs, f"{namespace}: {rule}"
            if namespace == WEBHOOK_NAMESPACE:
                assert rule.get("resourceNames"), rule
                assert set(rule["resourceNames"]) <= {TLS_SECRET, CA_SECRET}, rule
            else:
                assert verbs <= {"get", "list", "watch"}, f"{namespace}: {rule}"


def test_every_bound_subject_is_one_of_our_service_accounts(all_objects: list[Obj]) -> None:
    ours = {
        "vault-storage-injector",
        "vault-storage-injector-certs",
        "vault-storage-injector-token-reviewer",
        # The doctor's component (read-only: tests/integration/doctor/test_rbac.py).
        "vault-storage-injector-doctor",
    }
    bindings = [o for o in all_objects if o["kind"] in {"RoleBinding", "ClusterRoleBinding"}]
    assert bindings
    for binding in bindings:
        for subject in binding["subjects"]:
            assert subject["kind"] == "ServiceAccount", binding["metadata"]["name"]
            assert subject["namespace"] == WEBHOOK_NAMESPACE
            assert subject["name"] in ours


def test_every_rbac_rule_has_a_comment_saying_why() -> None:
    files = [
        p
        for p in MANIFESTS.rglob("*.yaml")
        if re.search(r"^kind: (Cluster)?Role$", p.read_text(), re.M)
    ]
    assert files
    for path in files:
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        for i, line in enumerate(lines):
            if line.startswith("- apiGroups:"):
                assert lines[i - 1].startswith("#"), f"{path.name}: rule without a comment: {line}"


def webhooks(base: list[Obj]) -> list[Obj]:
    (config,) = [o for o in base if o["kind"] == "MutatingWebhookConfiguration"]
    assert config["metadata"]["name"] == "vault-storage-injector"
    entries: list[Obj] = config["webhooks"]
    assert entries
    return entries


FAIL_OPEN: frozenset[str] = frozenset({"rook-pods.vault-storage-injector.io"})
"""Entries that let objects through during an outage: Rook's operator, prepare and key-rotation
pods, whose Vault calls fail and are retried without the settings (the mutation is not what keeps
a key safe there), while a blocked operator would stop managing the whole Ceph cluster."""


def test_webhook_entries_are_fast_side_effect_free_v1_and_fail_closed(base: list[Obj]) -> None:
    for hook in webhooks(base):
        assert 1 <= hook["timeoutSeconds"] <= 5, hook["name"]
        assert hook["sideEffects"] == "None", hook["name"]
        assert hook["admissionReviewVersions"] == ["v1"], hook["name"]
        expected = "Ignore" if hook["name"] in FAIL_OPEN else "Fail"
        assert hook["failurePolicy"] == expected, hook["name"]
        assert hook["reinvocationPolicy"] == "IfNeeded", hook["name"]
        assert hook["matchPolicy"] == "Equivalent", hook["name"]


def test_webhook_calls_the_service_on_mutate_and_leaves_ca_bundle_to_the_bootstrap(
    base: list[Obj],
) -> None:
    for hook in webhooks(base):
        assert hook["clientConfig"] == {
            "service": {
                "name": "vault-storage-injector",
                "namespace": WEBHOOK_NAMESPACE,
                "path": "/mutate",
                "port": 443,
            }
        }, hook["name"]


def test_webhook_rules_cover_exactly_the_three_kinds(base: list[Obj]) -> None:
    seen = set()
    for hook in webhooks(base):
        for rule in hook["rules"]:
            assert rule["scope"] == "Namespaced"
            for group in rule["apiGroups"]:
                for version in rule["apiVersions"]:
                    for resource in rule["resources"]:
                        for operation in rule["operations"]:
                            seen.add((group, version, resource, operation))
    assert seen == EXPECTED_RULES


@pytest.mark.parametrize(
    ("namespace_labels", "selected"),
    [
        ({OPT_IN_LABEL: "true", "kubernetes.io/metadata.name": "rook-ceph"}, True),
        ({OPT_IN_LABEL: "true", "kubernetes.io/metadata.name": "kube-system"}, True),
        ({"kubernetes.io/metadata.name": "rook-ceph"}, False),
        ({OPT_IN_LABEL: "false", "kubernetes.io/metadata.name": "rook-ceph"}, False),
        ({OPT_IN_LABEL: "true", "kubernetes.io/metadata.name": WEBHOOK_NAMESPACE}, False),
    ],
)
def test_namespace_selector_requires_the_opt_in_and_excludes_the_webhooks_own_namespace(
    base: list[Obj], namespace_labels: dict[str, str], selected: bool
) -> None:
    for hook in webhooks(base):
        assert selector_matches(hook["namespaceSelector"], namespace_labels) is selected


def test_object_selector_keeps_the_webhooks_own_pods_out(base: list[Obj]) -> None:
    own = [pod_labels for _, pod_labels in own_pod_labels(base)]
    assert own
    storage_pod = {"app": "rook-ceph-osd", "ceph.rook.io/pvc": "set1-data-0"}
    rook_operator = {"app": "rook-ceph-operator", "pod-template-hash": "7c9f6d5b8"}
    for hook in webhooks(base):
        for labels in own:
            assert not selector_matches(hook["objectSelector"], labels), hook["name"]
        target = rook_operator if hook["name"] in FAIL_OPEN else storage_pod
        assert selector_matches(hook["objectSelector"], target), hook["name"]


def own_pod_labels(base: list[Obj]) -> list[tuple[str, dict[str, str]]]:
    labelled = []
    for obj in base:
        if obj["kind"] in {"Deployment", "Job"}:
            labelled.append((obj["kind"], obj["spec"]["template"]["metadata"]["labels"]))
        if obj["kind"] == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
            labelled.append((obj["kind"], template["metadata"]["labels"]))
    return labelled


def test_every_webhook_entry_honours_the_inject_false_annotation(base: list[Obj]) -> None:
    for hook in webhooks(base):
        expressions = [c["expression"] for c in hook["matchConditions"]]
        assert [e for e in expressions if f"'{INJECT_ANNOTATION}'" in e and "!= 'false'" in e], (
            hook["name"]
        )


def test_the_pods_entries_skip_mirror_pods(base: list[Obj]) -> None:
    entries = [h for h in webhooks(base) if h["rules"][0]["resources"] == ["pods"]]
    assert len(entries) == 2
    for pods in entries:
        assert [
            c for c in pods["matchConditions"] if "'kubernetes.io/config.mirror'" in c["expression"]
        ], pods["name"]


def test_the_webhooks_own_namespace_has_no_opt_in_label_and_enforces_restricted(
    base: list[Obj],
) -> None:
    (namespace,) = [o for o in base if o["kind"] == "Namespace"]
    labels = namespace["metadata"]["labels"]
    assert OPT_IN_LABEL not in labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
