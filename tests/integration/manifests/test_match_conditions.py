"""The CEL matchConditions and object selectors of the built webhook configuration, evaluated.

No apiserver runs here, so the expressions are evaluated as the API server would (cel-python, with
``object``, ``oldObject`` and ``request`` bound: `tests.integration.manifests.cel`). What they must
do, entry by entry:

- never leave out an object the mutator changes: every golden review it changes (and what it made
  of it, which a reinvocation or the next UPDATE sends again) reaches its entry, and so does every
  variant of the corpus (goldens, the fixtures under ``objects/``, the reference objects) that
  the mutator changes, on CREATE and UPDATE;
- send an entry with ``failurePolicy: Fail`` nothing that cannot be a storage object, so a webhook
  outage cannot refuse it: kube-proxy, Calico, Cilium, the AWS VPC CNI and two CSI node
  DaemonSets, Portworx's own ``portworx-api`` DaemonSet, the pods of Ceph mons, managers and OSDs
  without Rook's key volume, and kube-system's pods;
- send Portworx DaemonSets (the fixtures, and the real ones of the reference folder when present);
- read no field where it may be absent (cel-python answers ``false`` where Kubernetes errs, and an
  error refuses the request): every path is always present or tested with ``has()`` first.

Rook's operator, OSD prepare and key-rotation pods (rook-kms) reach only the entry whose
failurePolicy is Ignore.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from celpy.evaluation import CELEvalError

from tests.integration.manifests.cel import holds, unguarded, variables
from tests.integration.manifests.conftest import Obj, selector_matches
from tests.integration.manifests.corpus import (
    GOLDEN,
    KINDS,
    NOT_STORAGE,
    OBJECTS,
    REAL_WORLD,
    configs,
    corpus,
    load,
    mutates,
    mutation,
    reference_objects,
    variants,
)
from webhook.core.profiles import default_config

RESOURCE_ENTRY = {
    "pods": "pods.vault-storage-injector.io",
    "daemonsets": "daemonsets.vault-storage-injector.io",
    "storageclusters": "storageclusters.vault-storage-injector.io",
}
ROOK_PODS_ENTRY = "rook-pods.vault-storage-injector.io"
"""The second pods entry: Rook's own pods in KMS mode, failurePolicy Ignore."""
PRESENT = {
    "pods": {"object", "object.metadata", "object.spec", "object.spec.containers"},
    "daemonsets": {
        "object",
        "object.metadata",
        "object.spec",
        "object.spec.template",
        "object.spec.template.metadata",
        "object.spec.template.spec",
        "object.spec.template.spec.containers",
    },
    "storageclusters": {"object", "object.metadata"},
}
"""What is always there in the ``object`` the API server binds: the fields of the typed object
that are no pointers and not ``omitempty`` (a Pod's containers, a DaemonSet's pod template); a
custom resource has its metadata alone."""


def _entries(base: list[Obj]) -> dict[str, Obj]:
    config = next(o for o in base if o["kind"] == "MutatingWebhookConfiguration")
    return {hook["name"]: hook for hook in config["webhooks"]}


def _admitted(
    hook: Obj, obj: dict[str, Any], old: dict[str, Any] | None = None, operation: str = "CREATE"
) -> bool:
    """Whether the API server would call the webhook: a rule for the operation, selected, every
    condition true (ANDed). An evaluation error raises: it would refuse the request."""
    if not any(operation in rule["operations"] for rule in hook["rules"]):
        return False
    if not selector_matches(hook["objectSelector"], obj["metadata"].get("labels", {})):
        return False
    bound = variables(obj, old, operation=operation)
    return all(holds(c["expression"], bound) for c in hook.get("matchConditions", []))


def _reaching(
    base: list[Obj],
    obj: dict[str, Any],
    resource: str,
    old: dict[str, Any] | None = None,
    operation: str = "CREATE",
) -> list[str]:
    """The entries of ``resource`` that would be called for ``obj``."""
    return [
        name
        for name, hook in _entries(base).items()
        if hook["rules"][0]["resources"] == [resource] and _admitted(hook, obj, old, operation)
    ]


def _mutated_cases() -> list[Path]:
    """Golden cases whose review the mutator changes: these must reach the webhook."""
    return sorted(
        p
        for p in GOLDEN.iterdir()
        if (p / "request.json").exists()
        and json.loads((p / "outcome.json").read_text())["outcome"] == "mutated"
    )


def test_every_expression_reads_only_fields_that_are_there_or_tested(base: list[Obj]) -> None:
    for name, hook in _entries(base).items():
        present = PRESENT[hook["rules"][0]["resources"][0]]
        for condition in hook.get("matchConditions", []):
            assert unguarded(condition["expression"], present) == [], (name, condition["name"])


def test_cel_python_answers_false_where_kubernetes_errs_so_the_lint_above_is_needed() -> None:
    bound = variables({"metadata": {"name": "x"}, "spec": {}})
    assert not holds("has(object.spec.template.spec)", bound)  # cel-go: no such key: template
    with pytest.raises(CELEvalError):
        holds("object.spec.template.spec.containers.exists(c, true)", bound)


@pytest.mark.parametrize("case", _mutated_cases(), ids=lambda p: p.name)
def test_every_review_the_mutator_changes_passes_the_match_conditions(
    base: list[Obj], case: Path
) -> None:
    request = json.loads((case / "request.json").read_text())["request"]
    reaching = _reaching(base, request["object"], request["resource"]["resource"])
    assert len(reaching) == 1, f"{case.name} reaches {reaching or 'no entry'}"


@pytest.mark.parametrize("case", _mutated_cases(), ids=lambda p: p.name)
def test_what_the_mutator_made_of_a_golden_case_reaches_the_same_entry(
    base: list[Obj], case: Path
) -> None:
    request = json.loads((case / "request.json").read_text())["request"]
    resource, before = request["resource"]["resource"], request["object"]
    after = json.loads((case / "expected.json").read_text())
    entry = _reaching(base, before, resource)
    assert _reaching(base, after, resource) == entry, "a reinvocation would not reach it"
    if resource != "pods":  # the next UPDATE (a regenerated spec) is sent as well
        assert _reaching(base, after, resource, before, "UPDATE") == entry


def test_the_golden_cases_cover_every_entry(base: list[Obj]) -> None:
    reached = set()
    for case in _mutated_cases():
        request = json.loads((case / "request.json").read_text())["request"]
        reached.update(_reaching(base, request["object"], request["resource"]["resource"]))
    assert reached == {*RESOURCE_ENTRY.values(), ROOK_PODS_ENTRY}


def test_only_rooks_kms_pods_use_the_entry_that_ignores_an_outage(base: list[Obj]) -> None:
    entries = _entries(base)
    assert {name for name, hook in entries.items() if hook["failurePolicy"] == "Ignore"} == {
        ROOK_PODS_ENTRY
    }
    osd = _pod({"app": "rook-ceph-osd", "ceph.rook.io/pvc": "set1-data-0"}, volumes=[_KEY])
    assert _reaching(base, osd, "pods") == [RESOURCE_ENTRY["pods"]]
    for app in ("rook-ceph-operator", "rook-ceph-osd-prepare", "rook-ceph-osd-key-rotation"):
        assert _reaching(base, _pod({"app": app}), "pods") == [ROOK_PODS_ENTRY], app
        opted_out = _pod({"app": app}, {"vault-storage-injector.io/inject": "false"})
        assert _reaching(base, opted_out, "pods") == [], app


def test_no_entry_is_called_on_delete_or_connect(base: list[Obj]) -> None:
    for name, hook in _entries(base).items():
        for rule in hook["rules"]:
            assert set(rule["operations"]) <= {"CREATE", "UPDATE"}, name


_KEY = {"name": "osd-encryption-key", "secret": {"secretName": "rook-ceph-osd-encryption-key-a"}}
"""Rook's key volume of an encrypted OSD on a PVC (default mode)."""


def _pod(
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    *,
    containers: tuple[str, ...] = ("x",),
    volumes: list[Obj] | None = None,
    namespace: str = "rook-ceph",
) -> Obj:
    meta: dict[str, Any] = {"name": "p", "namespace": namespace}
    if labels is not None:
        meta["labels"] = labels
    if annotations is not None:
        meta["annotations"] = annotations
    spec: Obj = {"containers": [{"name": name} for name in containers]}
    if volumes is not None:
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


_PVC = {"name": "data", "persistentVolumeClaim": {"claimName": "set1-data-0"}}


@pytest.mark.parametrize(
    "pod",
    [
        _pod({"app": "rook-ceph-mon"}),
        _pod({"app": "rook-ceph-mgr"}, {"prometheus.io/scrape": "true"}),
        _pod(),
        _pod({"app": "rook-ceph-osd", "ceph.rook.io/pvc": "set1-data-0"}, volumes=[_PVC]),
        _pod({"app": "rook-ceph-osd", "osd": "0"}, volumes=[_KEY]),
        _pod({"app": "rook-ceph-osd", "ceph.rook.io/pvc": ""}, volumes=[_KEY]),
        _pod(
            {"app": "rook-ceph-osd", "ceph.rook.io/pvc": "set1-data-0"},
            {"vault-storage-injector.io/inject": "false"},
            volumes=[_KEY],
        ),
        _pod(
            {"app": "rook-ceph-osd", "ceph.rook.io/pvc": "set1-data-0"},
            {"kubernetes.io/config.mirror": "abc", "vault-storage-injector.io/inject": "true"},
            volumes=[_KEY],
        ),
        _pod({"k8s-app": "kube-proxy"}, containers=("kube-proxy",), namespace="kube-system"),
        _pod({"k8s-app": "kube-dns"}, containers=("coredns",), namespace="kube-system"),
        _pod({"k8s-app": "calico-node"}, containers=("calico-node",), namespace="kube-system"),
        _pod({"k8s-app": "cilium"}, containers=("cilium-agent",), namespace="kube-system"),
        _pod({"name": "portworx-api"}, containers=("portworx-api",), namespace="kube-system"),
        _pod(annotations={"vault-storage-injector.io/inject": "True"}, volumes=[_PVC]),
    ],
    ids=[
        "mon",
        "mgr",
        "no-metadata-maps",
        "osd-not-encrypted",
        "osd-on-a-host-device",
        "osd-empty-pvc-label",
        "osd-opted-out",
        "mirror-pod",
        "kube-proxy",
        "coredns",
        "calico-node",
        "cilium",
        "portworx-api",
        "inject-not-exactly-true",
    ],
)
def test_pods_no_profile_can_match_never_reach_the_webhook(base: list[Obj], pod: Obj) -> None:
    assert _reaching(base, pod, "pods") == []


@pytest.mark.parametrize(
    "pod",
    [
        _pod({"app": "rook-ceph-osd", "ceph.rook.io/pvc": "set1-data-0"}, volumes=[_PVC, _KEY]),
        _pod(annotations={"vault-storage-injector.io/inject": "true"}, volumes=[_PVC]),
        _pod(annotations={"vault-storage-injector.io/profile": "my-profile"}),
        _pod(containers=("csi", "portworx"), namespace="portworx"),
    ],
    ids=["rook-osd", "inject-true", "profile", "portworx"],
)
def test_candidate_pods_reach_the_webhook(base: list[Obj], pod: Obj) -> None:
    assert _reaching(base, pod, "pods") == [RESOURCE_ENTRY["pods"]]


def _fixtures(*, storage: bool) -> list[Path]:
    return sorted((OBJECTS / ("storage" if storage else "not-storage")).glob("*.yaml"))


@pytest.mark.parametrize("path", _fixtures(storage=False), ids=lambda p: p.stem)
def test_daemonsets_that_are_no_storage_never_reach_the_webhook(
    base: list[Obj], path: Path
) -> None:
    daemonset = load(path)
    assert _reaching(base, daemonset, "daemonsets") == []
    changed = copy.deepcopy(daemonset)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] += "-patched"
    assert _reaching(base, changed, "daemonsets", daemonset, "UPDATE") == []


@pytest.mark.parametrize("path", _fixtures(storage=True), ids=lambda p: p.stem)
def test_portworx_daemonsets_reach_the_webhook_on_create_and_update(
    base: list[Obj], path: Path
) -> None:
    daemonset = load(path)
    entry = [RESOURCE_ENTRY["daemonsets"]]
    assert _reaching(base, daemonset, "daemonsets") == entry
    changed = copy.deepcopy(daemonset)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "portworx/oci-monitor:3.2.0"
    assert _reaching(base, changed, "daemonsets", daemonset, "UPDATE") == entry


def test_an_update_is_judged_on_the_new_object(base: list[Obj]) -> None:
    portworx = load(OBJECTS / "storage" / "portworx-daemonset.yaml")
    renamed = copy.deepcopy(portworx)
    renamed["spec"]["template"]["spec"]["containers"][0]["name"] = "px"
    assert _reaching(base, renamed, "daemonsets", portworx, "UPDATE") == []
    assert mutates(default_config(), renamed, "UPDATE") is False
    assert _reaching(base, portworx, "daemonsets", renamed, "UPDATE") == [
        RESOURCE_ENTRY["daemonsets"]
    ]


@pytest.mark.skipif(REAL_WORLD is None, reason="the shared reference folder is not here")
@pytest.mark.parametrize("path", reference_objects(), ids=lambda p: p.stem)
def test_the_reference_folders_portworx_objects_reach_the_webhook(
    base: list[Obj], path: Path
) -> None:
    obj = load(path)
    resource = KINDS[obj["kind"]][2]
    storage = obj["metadata"]["name"] not in NOT_STORAGE
    assert _reaching(base, obj, resource) == ([RESOURCE_ENTRY[resource]] if storage else [])
    # What the webhook makes of it: a mutation, a warning (a -secret_type of its own), or, for
    # a pod its operator rendered from a StorageCluster that carries the mutation, nothing on
    # purpose, for the storage objects; nothing at all for the others.
    result = mutation(default_config(), obj, "CREATE")
    handled = result.outcome == "mutated" or bool(result.warnings)
    handled = handled or result.reason == "operator-managed"
    assert handled is storage, result


def test_the_conditions_never_leave_out_an_object_the_mutator_changes(base: list[Obj]) -> None:
    every = configs()
    checked = 0
    for original in corpus():
        resource = KINDS[original["kind"]][2]
        for obj in variants(original):
            for operation in ("CREATE", "UPDATE"):
                if not any(mutates(config, obj, operation) for config in every):
                    continue
                old = obj if operation == "UPDATE" else None
                reaching = _reaching(base, obj, resource, old, operation)
                assert reaching, f"{obj['kind']}/{obj['metadata']['name']} {operation}"
                checked += 1
    assert checked > 100  # the corpus does exercise every rule
