"""Every kustomization builds offline, and every object it makes passes the strict schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.manifests.conftest import (
    CERT_SECRETS,
    MANIFESTS,
    WEBHOOK_NAMESPACE,
    Obj,
    find,
    kustomization_dirs,
    kustomize,
    rel,
    validate_strictly,
)

# Kinds that kubernetes-validate has no schema for (instances of custom resources, for example a
# StorageCluster). A new kind without a schema must be added here on purpose, with the reason, or
# the test fails. cert-manager's Certificate and Issuer (manifests/components/cert-manager) are
# checked field by field in tests/integration/charts/test_cert_manager.py instead; the Prometheus
# Operator's ServiceMonitor and PrometheusRule (manifests/components/monitoring) are compared with
# the chart's and checked by promtool in tests/integration/monitoring.
NO_SCHEMA_KINDS: frozenset[str] = frozenset(
    {"Certificate", "Issuer", "ServiceMonitor", "PrometheusRule"}
)


def test_every_example_and_component_is_found() -> None:
    found = {rel(d) for d in kustomization_dirs()}
    assert {
        "manifests/base",
        "manifests/components/doctor",
        "manifests/components/networkpolicy",
        "manifests/components/vault-token-reviewer",
        "manifests/examples/doctor",
        "manifests/examples/external-vault",
        "manifests/examples/portworx",
        "manifests/examples/rook",
        "manifests/examples/networkpolicy",
        "manifests/components/cert-manager",
        "manifests/examples/cert-manager",
        "manifests/components/monitoring",
        "manifests/examples/monitoring",
        "manifests/components/pods-only",
        "manifests/examples/pods-only",
    } <= found


@pytest.mark.parametrize("directory", kustomization_dirs(), ids=rel)
def test_kustomization_builds_to_objects_that_validate_strictly(directory: Path) -> None:
    objects = kustomize(directory)
    # A component of patches alone (pods-only) changes what an overlay holds and makes nothing
    # of its own: its example builds it (test_every_component_is_used_by_an_overlay).
    patches_only = "\nresources:" not in "\n" + kustomization_text(directory)
    assert objects or patches_only, f"{rel(directory)} built nothing"
    for obj in objects:
        where = f"{rel(directory)}: {obj['kind']}/{obj['metadata']['name']}"
        validate_strictly(obj, where, NO_SCHEMA_KINDS)


def test_every_component_is_used_by_an_overlay() -> None:
    components = [d for d in kustomization_dirs() if "kind: Component" in kustomization_text(d)]
    assert components
    for component in components:
        users = [
            d
            for d in kustomization_dirs()
            if f"../../{rel(component).removeprefix('manifests/')}" in kustomization_text(d)
        ]
        assert users, f"no overlay uses the component {rel(component)}"


def kustomization_text(directory: Path) -> str:
    return (directory / "kustomization.yaml").read_text()


def test_an_object_appears_once_per_build(builds: dict[str, list[Obj]]) -> None:
    for where, objects in builds.items():
        keys = [
            (o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
            for o in objects
        ]
        assert len(keys) == len(set(keys)), f"{where} builds duplicates"


def test_changing_the_portworx_namespace_is_one_line(tmp_path: Path) -> None:
    """The switch to kube-system (a DaemonSet install's TLS Secret) moves the Role but not its
    subject."""
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    kustomization = copy / "examples/portworx/namespace/kustomization.yaml"
    text = kustomization.read_text()
    assert "\nnamespace: portworx\n" in text
    kustomization.write_text(text.replace("\nnamespace: portworx\n", "\nnamespace: kube-system\n"))

    objects = kustomize(copy / "examples/portworx")

    assert not [o for o in objects if o["metadata"].get("namespace") == "portworx"]
    find(objects, "Role", "vault-storage-injector-secrets", "kube-system")
    binding = find(objects, "RoleBinding", "vault-storage-injector-secrets", "kube-system")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "vault-storage-injector", "namespace": WEBHOOK_NAMESPACE}
    ]


STORAGE_NAMESPACES = frozenset({"rook-ceph", "portworx", "kube-system", "default"})
"""Namespaces a storage system (or the cluster) owns: an example must never render one, or
`kubectl delete -k` would delete it and the storage with it."""


@pytest.mark.parametrize(
    "directory", [d for d in kustomization_dirs() if "/examples/" in str(d)], ids=rel
)
def test_no_example_renders_a_storage_namespace_or_a_credentials_secret(directory: Path) -> None:
    """Safe to apply (no Secret of placeholders overwrites a real one) and to delete (no storage
    namespace goes with it): the only Namespace is the webhook's own, the only Secrets the
    webhook's empty certificate Secrets that the bootstrap fills and service-account token
    Secrets that Kubernetes fills: none carries a value."""
    objects = kustomize(directory)
    namespaces = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    assert namespaces <= {WEBHOOK_NAMESPACE}, rel(directory)
    assert not namespaces & STORAGE_NAMESPACES
    for secret in (o for o in objects if o["kind"] == "Secret"):
        where = f"{rel(directory)}: Secret {secret['metadata']['name']}"
        own = (
            secret["metadata"]["name"] in CERT_SECRETS
            and secret["metadata"].get("namespace") == WEBHOOK_NAMESPACE
        )
        assert own or secret.get("type") == "kubernetes.io/service-account-token", where
        assert not secret.get("data"), where
        assert not secret.get("stringData"), where
