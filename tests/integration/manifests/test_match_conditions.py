"""The CEL matchConditions and object selectors of the built webhook configuration, evaluated.

No apiserver runs here, so the expressions are checked by evaluating them (cel-python): every golden
review the mutator changes must reach an entry of its resource, passing its object selector and
every condition (or the webhook would never see it), and the pods that no profile can match (Ceph
mons) must reach none, so a webhook outage cannot block them. Rook's operator, OSD prepare and
key-rotation pods (rook-kms) reach only the entry whose failurePolicy is Ignore.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import celpy
import pytest

from tests.integration.manifests.conftest import REPO, Obj, selector_matches

GOLDEN = REPO / "tests" / "golden"
RESOURCE_ENTRY = {
    "pods": "pods.vault-storage-injector.io",
    "daemonsets": "daemonsets.vault-storage-injector.io",
    "storageclusters": "storageclusters.vault-storage-injector.io",
}
ROOK_PODS_ENTRY = "rook-pods.vault-storage-injector.io"
"""The second pods entry: Rook's own pods in KMS mode, failurePolicy Ignore."""


def _entries(base: list[Obj]) -> dict[str, Obj]:
    config = next(o for o in base if o["kind"] == "MutatingWebhookConfiguration")
    return {hook["name"]: hook for hook in config["webhooks"]}


def _admitted(hook: Obj, obj: dict[str, Any]) -> bool:
    """Whether the apiserver would call the webhook: selected, every condition true (ANDed)."""
    if not selector_matches(hook["objectSelector"], obj["metadata"].get("labels", {})):
        return False
    env = celpy.Environment()
    activation = {"object": celpy.json_to_cel(obj)}
    for condition in hook.get("matchConditions", []):
        program = env.program(env.compile(condition["expression"]))
        if not bool(program.evaluate(activation)):
            return False
    return True


def _mutated_cases() -> list[Path]:
    """Golden cases whose review the mutator changes: these must reach the webhook."""
    return sorted(
        p
        for p in GOLDEN.iterdir()
        if (p / "request.json").exists()
        and json.loads((p / "outcome.json").read_text())["outcome"] == "mutated"
    )


def _reaching(base: list[Obj], obj: dict[str, Any], resource: str) -> list[str]:
    """The entries of ``resource`` that would be called for ``obj``."""
    return [
        name
        for name, hook in _entries(base).items()
        if hook["rules"][0]["resources"] == [resource] and _admitted(hook, obj)
    ]


@pytest.mark.parametrize("case", _mutated_cases(), ids=lambda p: p.name)
def test_every_review_the_mutator_changes_passes_the_match_conditions(
    base: list[Obj], case: Path
) -> None:
    request = json.loads((case / "request.json").read_text())["request"]
    reaching = _reaching(base, request["object"], request["resource"]["resource"])
    assert len(reaching) == 1, f"{case.name} reaches {reaching or 'no entry'}"


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
    osd = _pod({"app": "rook-ceph-osd", "ceph.rook.io/pvc": "set1-data-0"})
    assert _reaching(base, osd, "pods") == [RESOURCE_ENTRY["pods"]]
    for app in ("rook-ceph-operator", "rook-ceph-osd-prepare", "rook-ceph-osd-key-rotation"):
        assert _reaching(base, _pod({"app": app}), "pods") == [ROOK_PODS_ENTRY], app
        opted_out = _pod({"app": app}, {"vault-storage-injector.io/inject": "false"})
        assert _reaching(base, opted_out, "pods") == [], app


def _pod(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> Obj:
    meta: dict[str, Any] = {"name": "p", "namespace": "rook-ceph"}
    if labels is not None:
        meta["labels"] = labels
    if annotations is not None:
        meta["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "x"}]},
    }


@pytest.mark.parametrize(
    "pod",
    [
        _pod({"app": "rook-ceph-mon"}),
        _pod({"app": "rook-ceph-mgr"}, {"prometheus.io/scrape": "true"}),
        _pod(),
        _pod({"app": "rook-ceph-osd"}, {"vault-storage-injector.io/inject": "false"}),
        _pod(
            {"app": "rook-ceph-osd"},
            {"kubernetes.io/config.mirror": "abc", "vault-storage-injector.io/inject": "true"},
        ),
    ],
    ids=["mon", "mgr", "no-metadata-maps", "osd-opted-out", "mirror-pod"],
)
def test_pods_no_profile_can_match_never_reach_the_webhook(base: list[Obj], pod: Obj) -> None:
    assert _reaching(base, pod, "pods") == []


@pytest.mark.parametrize(
    "pod",
    [
        _pod({"app": "rook-ceph-osd", "ceph.rook.io/pvc": "set1-data-0"}),
        _pod(annotations={"vault-storage-injector.io/inject": "true"}),
        _pod(annotations={"vault-storage-injector.io/profile": "my-profile"}),
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "px", "namespace": "portworx"},
            "spec": {"containers": [{"name": "csi"}, {"name": "portworx"}]},
        },
    ],
    ids=["rook-osd", "inject-true", "profile", "portworx"],
)
def test_candidate_pods_reach_the_webhook(base: list[Obj], pod: Obj) -> None:
    assert _admitted(_entries(base)[RESOURCE_ENTRY["pods"]], pod)
