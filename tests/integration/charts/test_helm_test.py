"""`helm test` runs the preflight, `vsi-webhook doctor`, with the doctor's own RBAC.

The test hooks are kept equal to manifests/components/doctor and the namespace Role of
manifests/examples/doctor (as the base drift test does for the release), for the same names;
the Pod runs the doctor's documented command line for this release's names, and the RBAC exists
only while the test runs. No API server runs here: that the doctor passes against a healthy
release is tested with the API double in tests/integration/doctor.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integration.charts.conftest import (
    HELMS,
    find,
    is_test_hook,
    refused,
    render,
)
from tests.integration.charts.test_one_source import differences
from tests.integration.manifests.conftest import MANIFESTS, Obj, kustomize

DOCTOR = "vault-storage-injector-doctor"
EXAMPLE_VALUES: dict[str, Any] = {
    "test": {"namespaces": ["rook-ceph"], "vault": True, "serviceAccounts": ["rook-ceph-osd"]}
}


def hooks(values: dict[str, Any] | None = None, **kw: Any) -> list[Obj]:
    return [o for o in render(values, **kw) if is_test_hook(o)]


def without_hook_annotations(objects: list[Obj]) -> list[Obj]:
    out = []
    for obj in objects:
        annotations = {
            k: v for k, v in obj["metadata"]["annotations"].items() if not k.startswith("helm.sh/")
        }
        meta = {k: v for k, v in obj["metadata"].items() if k != "annotations"}
        if annotations:
            meta["annotations"] = annotations
        out.append({**obj, "metadata": meta})
    return out


def test_the_tests_rbac_is_the_doctor_component_and_its_namespace_role() -> None:
    rbac = without_hook_annotations([o for o in hooks(EXAMPLE_VALUES) if o["kind"] != "Pod"])
    doctor = [
        o
        for o in kustomize(MANIFESTS / "examples" / "doctor")
        if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "doctor"
    ]
    assert len(doctor) == 7
    found = differences(rbac, doctor)
    assert not found, "\n\n".join(found)


def test_a_changed_doctor_component_is_reported(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, manifests)
    component = manifests / "components" / "doctor" / "doctor.yaml"
    text = component.read_text()
    assert 'verbs: ["get", "list"]' in text
    component.write_text(
        text.replace('verbs: ["get", "list"]', 'verbs: ["get", "list", "watch"]', 1)
    )
    rbac = without_hook_annotations([o for o in hooks(EXAMPLE_VALUES) if o["kind"] != "Pod"])
    found = differences(rbac, kustomize(manifests / "examples" / "doctor"))
    assert any(f.startswith("ClusterRole//vault-storage-injector-doctor differs") for f in found)


def test_without_vault_the_namespace_role_reads_secrets_only() -> None:
    values = {"test": {"namespaces": ["rook-ceph", "portworx"]}}
    roles = [
        o
        for o in hooks(values)
        if o["kind"] == "Role" and o["metadata"]["namespace"] != "vault-storage-injector"
    ]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["portworx", "rook-ceph"]
    for role in roles:
        assert role["rules"] == [
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "resourceNames": ["px-vault", "rook-vault", "vsi-vault"],  # the profiles'
                "verbs": ["get"],
            }
        ]


def test_with_no_profile_secret_the_namespace_role_grants_no_secret() -> None:
    values = {
        "test": {"namespaces": ["rook-ceph"]},
        "builtinProfiles": False,
        "profiles": [
            {
                "name": "k8s-auth",
                "type": "volume-keys",
                "connection": {
                    "values": {
                        "VAULT_ADDR": "https://v:8200",
                        "VAULT_AUTH_METHOD": "kubernetes",
                        "VAULT_AUTH_KUBERNETES_ROLE": "keys",
                    }
                },
            }
        ],
    }
    (role,) = [
        o
        for o in hooks(values)
        if o["kind"] == "Role" and o["metadata"]["namespace"] == "rook-ceph"
    ]
    assert role["rules"] == []  # an empty resourceNames would have granted every Secret


def test_every_hook_is_a_test_hook_and_the_rbac_goes_when_the_test_passes() -> None:
    objects = hooks(EXAMPLE_VALUES)
    assert sorted(o["kind"] for o in objects) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Pod",
        "Role",
        "Role",
        "RoleBinding",
        "RoleBinding",
        "ServiceAccount",
    ]
    for obj in objects:
        annotations = obj["metadata"]["annotations"]
        if obj["kind"] == "Pod":
            assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
        else:
            assert (
                annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
            )
            assert int(annotations["helm.sh/hook-weight"]) < 0
    hooked = {
        o["metadata"].get("annotations", {}).get("helm.sh/hook") for o in render(EXAMPLE_VALUES)
    }
    assert hooked == {None, "test"}


@pytest.mark.parametrize(
    ("values", "release", "extra_args"),
    [
        ({}, "vault-storage-injector", []),
        (EXAMPLE_VALUES, "vault-storage-injector", ["--namespace=rook-ceph", "--vault"]),
        ({"test": {"namespaces": ["a", "b"]}}, "vsi", ["--namespace=a", "--namespace=b"]),
    ],
    ids=["default", "vault", "other-release"],
)
def test_the_pod_runs_the_doctor_for_this_release(
    values: dict[str, Any], release: str, extra_args: list[str]
) -> None:
    objects = hooks(values, release=release, namespace="storage-system")
    pod = find(objects, "Pod")
    prefix = (
        "vault-storage-injector"
        if release == "vault-storage-injector"
        else f"{release}-vault-storage-injector"
    )
    spec = pod["spec"]
    assert spec["serviceAccountName"] == f"{prefix}-doctor"
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["command"] == ["vsi-webhook", "doctor"]
    assert container["args"] == [
        f"--webhook-config={prefix}",
        f"--service={prefix}",
        f"--secret={prefix}-tls",
        f"--config-map={prefix}-config",
        f"--rotate-cronjob={prefix}-certs-rotate",
        *extra_args,
    ]
    assert {
        "name": "POD_NAMESPACE",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
    } in container["env"]
    assert pod["metadata"]["namespace"] == "storage-system"
    (binding,) = [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": f"{prefix}-doctor", "namespace": "storage-system"}
    ]
    cluster_role = find(objects, "ClusterRole")
    assert cluster_role["rules"][1]["resourceNames"] == [prefix]


def test_the_doctor_runs_the_webhooks_image_in_memory_scratch_space() -> None:
    objects = render({"image": {"digest": "sha256:" + "ef" * 32}})
    (webhook,) = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    pod = find(objects, "Pod")
    (doctor,) = pod["spec"]["containers"]
    assert doctor["image"] == webhook["image"]
    (tmp,) = pod["spec"]["volumes"]
    assert tmp == {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "4Mi"}}


def test_test_enabled_false_renders_no_hook() -> None:
    assert hooks({"test": {"enabled": False}}) == []


def test_the_doctor_would_find_what_it_checks_in_the_release() -> None:
    """The names the Pod passes are the names of objects the release makes."""
    objects = render()
    (container,) = find(objects, "Pod")["spec"]["containers"]
    args = dict(a.removeprefix("--").split("=", 1) for a in container["args"])
    find(objects, "MutatingWebhookConfiguration", args["webhook-config"])
    find(objects, "Service", args["service"])
    find(objects, "ConfigMap", args["config-map"])
    find(objects, "CronJob", args["rotate-cronjob"])
    volumes = find(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    (tls,) = [v for v in volumes if v["name"] == "tls"]
    assert tls["secret"]["secretName"] == args["secret"]


def test_with_cert_manager_the_doctor_names_no_rotation_cronjob() -> None:
    """There is none: cert-manager issues the certificate, and the fixes point there."""
    objects = render({"certManager": {"enabled": True}})
    (container,) = find(objects, "Pod")["spec"]["containers"]
    assert "--rotate-cronjob=" in container["args"]
    assert "CronJob" not in {o["kind"] for o in objects}


def test_a_service_account_that_is_no_name_is_refused() -> None:
    message = refused({"test": {"vault": True, "serviceAccounts": ["Rook OSD"]}})
    assert "serviceAccounts" in message


@pytest.mark.parametrize("binary", HELMS)
@pytest.mark.parametrize("names", [[], None])
def test_vault_without_service_account_names_is_refused_not_a_grant_of_every_token(
    names: list[str] | None, binary: str
) -> None:
    """RBAC reads resourceNames [] or null as every name: tokens of every service account."""
    values = {"test": {"vault": True, "namespaces": ["rook-ceph"], "serviceAccounts": names}}
    message = refused(values, binary=binary)
    assert "test.serviceAccounts: name at least one service account with test.vault" in message
