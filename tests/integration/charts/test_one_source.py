"""One source of truth: the chart renders the objects `kubectl kustomize` builds, object by object.

With default values, release name and namespace vault-storage-injector, `helm template` must
give exactly the objects of manifests/base (the Namespace aside: Helm users pass
--create-namespace), with certManager.enabled those of manifests/examples/cert-manager, and with
networkPolicy.enabled those of manifests/examples/networkpolicy, and with workloads.mutate=false
those of manifests/examples/pods-only. The only differences allowed are
Helm's own labels (instance, managed-by, version, chart; instance also in selectors), and the
profiles ConfigMap is compared as the webhook reads it (the parsed `Config`), since the chart
writes the injector's image into it where the base leaves the default, and CEL expressions with
their whitespace collapsed. The example values files are compared with the kustomize examples
the same way, less the storage namespaces and connection Secrets that the admin makes. The last
tests prove the comparison bites: a changed template or a changed base is reported.
"""

from __future__ import annotations

import copy
import difflib
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.charts.conftest import (
    CHART,
    HELM_LABELS,
    NAMESPACE,
    RELEASE,
    release_objects,
    render,
)
from tests.integration.manifests.conftest import MANIFESTS, Obj, kustomize
from webhook.core.config import parse_config
from webhook.core.profiles import Config

Key = tuple[str, str, str]


def normalise(obj: Obj) -> Obj:
    """``obj`` without Helm's labels, and its config.yaml as the webhook parses it."""
    out: Obj = copy.deepcopy(obj)
    _drop_helm_labels(out)
    if out["kind"] == "Service":
        for label in HELM_LABELS:
            out["spec"]["selector"].pop(label, None)
    if out["kind"] == "ConfigMap" and "config.yaml" in out.get("data", {}):
        out["data"]["config.yaml"] = as_the_webhook_reads(out["data"]["config.yaml"])
    # kustomize writes the folded CEL blocks back with doubled line breaks before their
    # more-indented lines; CEL ignores whitespace between tokens (the CEL tests evaluate both).
    if out["kind"] == "MutatingWebhookConfiguration":
        for hook in out["webhooks"]:
            for condition in hook.get("matchConditions", []):
                condition["expression"] = " ".join(condition["expression"].split())
    if out["kind"] == "ValidatingAdmissionPolicy":
        spec = out["spec"]
        for item in spec.get("matchConditions", []) + spec.get("validations", []):
            item["expression"] = " ".join(item["expression"].split())
    return out


def as_the_webhook_reads(text: str) -> Config:
    """The parsed profiles file. Rook's kms block is kept in file order, which Helm cannot keep
    (Go maps are sorted on output) and nothing but its repr depends on: it is compared sorted."""
    config = parse_config(text, source="config.yaml")
    profiles = []
    for profile in config.profiles:
        kms = profile.connection.kms
        if kms is not None:
            kms = replace(kms, connection_details=tuple(sorted(kms.connection_details)))
            profile = replace(profile, connection=replace(profile.connection, kms=kms))
        profiles.append(profile)
    return replace(config, profiles=tuple(profiles))


def _drop_helm_labels(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"labels", "matchLabels"} and isinstance(value, dict):
                for label in HELM_LABELS:
                    value.pop(label, None)
            _drop_helm_labels(value)
    elif isinstance(node, list):
        for item in node:
            _drop_helm_labels(item)


def by_key(objects: list[Obj]) -> dict[Key, Obj]:
    keyed = {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): normalise(o)
        for o in objects
    }
    assert len(keyed) == len(objects), "duplicate objects"
    return keyed


def differences(
    chart: list[Obj], kustomized: list[Obj], not_in_chart: frozenset[str] = frozenset({"Namespace"})
) -> list[str]:
    """What differs between the chart's objects and the kustomize build, but for the kinds
    ``not_in_chart`` (the Namespace; for the examples, also the connection Secret templates)."""
    ours = by_key(chart)
    theirs = by_key([o for o in kustomized if o["kind"] not in not_in_chart])
    found = [f"only in the chart: {'/'.join(k)}" for k in sorted(ours.keys() - theirs.keys())]
    found += [f"only in kustomize: {'/'.join(k)}" for k in sorted(theirs.keys() - ours.keys())]
    for key in sorted(ours.keys() & theirs.keys()):
        if ours[key] != theirs[key]:
            diff = difflib.unified_diff(
                _dump(theirs[key]), _dump(ours[key]), "kustomize", "chart", lineterm=""
            )
            found.append(f"{'/'.join(key)} differs:\n" + "\n".join(diff))
    return found


def _dump(obj: Obj) -> list[str]:
    shown = copy.deepcopy(obj)
    if shown["kind"] == "ConfigMap" and "config.yaml" in shown.get("data", {}):
        shown["data"]["config.yaml"] = repr(shown["data"]["config.yaml"])
    return yaml.safe_dump(shown, sort_keys=True).splitlines()


CASES = {
    "default": ({}, "base"),
    "cert-manager": ({"certManager": {"enabled": True}}, "examples/cert-manager"),
    "networkpolicy": ({"networkPolicy": {"enabled": True}}, "examples/networkpolicy"),
    "pods-only": ({"workloads": {"mutate": False}}, "examples/pods-only"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_chart_renders_what_kustomize_builds(case: str) -> None:
    values, directory = CASES[case]
    found = differences(release_objects(render(values)), kustomize(MANIFESTS / directory))
    assert not found, "\n\n".join(found)


# The examples' storage namespaces (opt-in label) and connection Secrets are the admin's to make;
# the chart renders the rest: the profiles and the Secret-reading Role and RoleBinding there.
EXAMPLES = {
    "portworx": ("portworx-values.yaml", "examples/portworx"),
    "rook": ("rook-values.yaml", "examples/rook"),
    "rook-kms": ("rook-kms-values.yaml", "examples/rook/kms"),
}


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_example_values_render_what_the_kustomize_example_builds(example: str) -> None:
    values_file, directory = EXAMPLES[example]
    kustomized = [
        o
        for o in kustomize(MANIFESTS / directory)
        if o["kind"] != "Secret" or o["metadata"]["namespace"] == NAMESPACE
    ]  # the connection Secrets are the admin's; the webhook's own two are in both
    found = differences(
        release_objects(render(value_files=[CHART / "examples" / values_file])), kustomized
    )
    assert not found, "\n\n".join(found)


def test_the_chart_renders_every_kind_of_the_base_but_the_namespace(
    default_render: list[Obj],
) -> None:
    base_kinds = {o["kind"] for o in kustomize(MANIFESTS / "base")} - {"Namespace"}
    assert {o["kind"] for o in default_render} == base_kinds
    assert len(default_render) == len(kustomize(MANIFESTS / "base")) - 1


def test_every_object_and_selector_carries_the_release(default_render: list[Obj]) -> None:
    for obj in default_render:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == RELEASE, where
        assert labels["app.kubernetes.io/managed-by"] == "Helm", where
        assert labels["helm.sh/chart"] == "vault-storage-injector-0.1.0", where
    selectors = [
        obj["spec"]["selector"].get("matchLabels", obj["spec"]["selector"])
        for obj in default_render
        if obj["kind"] in {"Deployment", "PodDisruptionBudget", "Service"}
    ]
    assert len(selectors) == 3
    for selector in selectors:
        assert selector["app.kubernetes.io/instance"] == RELEASE


def _copy_chart(tmp_path: Path) -> Path:
    target = tmp_path / "vault-storage-injector"
    shutil.copytree(CHART, target)
    return target


def test_a_changed_template_is_reported(tmp_path: Path) -> None:
    chart = _copy_chart(tmp_path)
    deployment = chart / "templates" / "deployment.yaml"
    text = deployment.read_text()
    assert "- --port=8443" in text
    deployment.write_text(text.replace("- --port=8443", "- --port=8444"))
    found = differences(release_objects(render(chart=chart)), kustomize(MANIFESTS / "base"))
    assert len(found) == 1
    assert found[0].startswith("Deployment/vault-storage-injector/vault-storage-injector differs")
    assert "--port=8444" in found[0]


def test_a_changed_base_is_reported(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, manifests)
    config = manifests / "base" / "mutatingwebhookconfiguration.yaml"
    config.write_text(config.read_text().replace("timeoutSeconds: 5", "timeoutSeconds: 7", 1))
    found = differences(release_objects(render()), kustomize(manifests / "base"))
    assert len(found) == 1
    assert "MutatingWebhookConfiguration//vault-storage-injector differs" in found[0]
    assert "timeoutSeconds: 7" in found[0]


def test_a_profiles_file_that_means_something_else_is_reported(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, manifests)
    config = manifests / "base" / "config.yaml"
    config.write_text(config.read_text() + "keyVolume:\n  sizeLimit: 2Mi\n")
    found = differences(release_objects(render()), kustomize(manifests / "base"))
    assert len(found) == 1
    assert found[0].startswith("ConfigMap/vault-storage-injector/vault-storage-injector-config")
