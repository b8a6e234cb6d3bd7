"""The release namespace (and name) are followed everywhere: no object keeps the base's namespace.

Point 2 of the chart's issue: object namespaces, the webhook's clientConfig, the certificate's
DNS names, the bootstrap's arguments, the RBAC subjects and the namespaceSelector exclusion that
keeps the webhook from calling itself all follow `--namespace`, and names follow the release.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.charts.conftest import find, refused, render
from tests.integration.manifests.conftest import Obj, pod_templates, selector_matches

NAMESPACE = "storage-system"
OPT_IN = "vault-storage-injector.io/enabled"
ALL_ON = {
    "certManager": {"enabled": True},
    "networkPolicy": {"enabled": True},
    "metrics": {"serviceMonitor": {"enabled": True}},
}
CASES = {
    "bootstrap": {
        "networkPolicy": {"enabled": True},
        "metrics": {"serviceMonitor": {"enabled": True}},
    },
    "cert-manager": ALL_ON,
}


@pytest.fixture(scope="module", params=list(CASES))
def moved(request: pytest.FixtureRequest) -> list[Obj]:
    return render(CASES[request.param], namespace=NAMESPACE)


def test_every_namespaced_object_is_in_the_release_namespace(moved: list[Obj]) -> None:
    cluster_scoped = {
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    for obj in moved:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in cluster_scoped:
            assert "namespace" not in obj["metadata"], where
        else:
            assert obj["metadata"]["namespace"] == NAMESPACE, where


def test_nothing_names_the_default_namespace(moved: list[Obj]) -> None:
    text = json.dumps(moved)
    assert ".vault-storage-injector.svc" not in text
    assert '"namespace": "vault-storage-injector"' not in text
    assert '"vault-storage-injector/' not in text


def test_the_webhook_calls_the_service_in_the_release_namespace_and_never_itself(
    moved: list[Obj],
) -> None:
    for hook in find(moved, "MutatingWebhookConfiguration")["webhooks"]:
        assert hook["clientConfig"]["service"]["namespace"] == NAMESPACE
        selector = hook["namespaceSelector"]
        own = {OPT_IN: "true", "kubernetes.io/metadata.name": NAMESPACE}
        other = {OPT_IN: "true", "kubernetes.io/metadata.name": "vault-storage-injector"}
        assert not selector_matches(selector, own), hook["name"]
        assert selector_matches(selector, other), hook["name"]


def test_rbac_subjects_are_the_release_namespaces_service_accounts(moved: list[Obj]) -> None:
    bindings = [o for o in moved if o["kind"] in {"RoleBinding", "ClusterRoleBinding"}]
    assert bindings
    for binding in bindings:
        for subject in binding["subjects"]:
            assert subject["namespace"] == NAMESPACE


def test_the_bootstrap_runs_for_the_release_namespace() -> None:
    objects = render(namespace=NAMESPACE)
    workloads = [(w, p) for w, p in pod_templates(objects) if w.split("/")[0] in {"Job", "CronJob"}]
    assert len(workloads) == 2
    for where, pod in workloads:
        (container,) = pod["containers"]
        assert "--namespace=$(POD_NAMESPACE)" in container["args"], where
        assert {
            "name": "POD_NAMESPACE",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        } in container["env"], where
    job = find(objects, "Job")
    assert job["metadata"]["namespace"] == NAMESPACE


def test_the_certificate_covers_the_service_in_the_release_namespace() -> None:
    objects = render(ALL_ON, namespace=NAMESPACE)
    certificate = find(objects, "Certificate", "vault-storage-injector-tls")
    assert certificate["spec"]["dnsNames"] == [
        "vault-storage-injector",
        f"vault-storage-injector.{NAMESPACE}",
        f"vault-storage-injector.{NAMESPACE}.svc",
        f"vault-storage-injector.{NAMESPACE}.svc.cluster.local",
    ]
    config = find(objects, "MutatingWebhookConfiguration")
    assert config["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": f"{NAMESPACE}/vault-storage-injector-tls"
    }
    monitor = find(objects, "ServiceMonitor")
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}


def test_another_release_name_renames_every_object_and_its_references() -> None:
    objects = render(ALL_ON, release="vsi", namespace=NAMESPACE)
    prefix = "vsi-vault-storage-injector"
    for obj in objects:
        assert obj["metadata"]["name"].startswith(prefix), obj["metadata"]["name"]
    hooks = find(objects, "MutatingWebhookConfiguration")["webhooks"]
    assert {h["clientConfig"]["service"]["name"] for h in hooks} == {prefix}
    deployment = find(objects, "Deployment")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == f"{prefix}-tls"
    assert volumes["config"]["configMap"]["name"] == f"{prefix}-config"
    certificate = find(objects, "Certificate", f"{prefix}-tls")
    assert certificate["spec"]["dnsNames"][2] == f"{prefix}.{NAMESPACE}.svc"


def test_the_bootstrap_names_the_releases_service_secret_and_configuration() -> None:
    objects = render(release="vsi", namespace=NAMESPACE)
    prefix = "vsi-vault-storage-injector"
    (container,) = find(objects, "Job")["spec"]["template"]["spec"]["containers"]
    assert container["args"][2:6] == [
        f"--service={prefix}",
        f"--secret={prefix}-tls",
        f"--webhook-config={prefix}",
        f"--ca-secret={prefix}-ca",
    ]
    role = find(objects, "Role", f"{prefix}-certs")
    assert role["rules"][0]["resourceNames"] == [f"{prefix}-tls", f"{prefix}-ca"]
    secrets = {o["metadata"]["name"] for o in objects if o["kind"] == "Secret"}
    assert secrets == {f"{prefix}-tls", f"{prefix}-ca"}
    cluster_role = find(objects, "ClusterRole", f"{prefix}-certs")
    assert cluster_role["rules"][0]["resourceNames"] == [prefix]


def test_a_name_prefix_too_long_for_the_cronjob_is_refused() -> None:
    message = refused(release="a-release-name-that-is-long-enough")
    assert "fullnameOverride" in message
    assert render({"fullnameOverride": "vsi"}, release="a-release-name-that-is-long-enough")
