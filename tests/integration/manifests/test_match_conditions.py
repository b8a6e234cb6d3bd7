"""The CEL matchConditions of the built webhook configuration, evaluated with cel-python.

No apiserver runs here, so the expressions are checked by evaluating them: every golden review the
mutator changes must pass every condition of its entry (or the webhook would never see it), and the
pods that no profile can match (Ceph mons, an operator) must not reach the webhook, so a webhook
outage cannot block them under failurePolicy Fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import celpy
import pytest

from tests.integration.manifests.conftest import REPO, Obj

GOLDEN = REPO / "tests" / "golden"
RESOURCE_ENTRY = {
    "pods": "pods.vault-storage-injector.io",
    "daemonsets": "daemonsets.vault-storage-injector.io",
    "storageclusters": "storageclusters.vault-storage-injector.io",
}


def _entries(base: list[Obj]) -> dict[str, Obj]:
    config = next(o for o in base if o["kind"] == "MutatingWebhookConfiguration")
    return {hook["name"]: hook for hook in config["webhooks"]}


def _admitted(hook: Obj, obj: dict[str, Any]) -> bool:
    """Whether the apiserver would call the webhook: every condition true (they are ANDed)."""
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


@pytest.mark.parametrize("case", _mutated_cases(), ids=lambda p: p.name)
def test_every_review_the_mutator_changes_passes_the_match_conditions(
    base: list[Obj], case: Path
) -> None:
    request = json.loads((case / "request.json").read_text())["request"]
    hook = _entries(base)[RESOURCE_ENTRY[request["resource"]["resource"]]]
    assert _admitted(hook, request["object"]), f"{case.name} would never reach the webhook"


def test_the_golden_cases_cover_every_entry() -> None:
    resources = {
        json.loads((case / "request.json").read_text())["request"]["resource"]["resource"]
        for case in _mutated_cases()
    }
    assert resources == set(RESOURCE_ENTRY)


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
        _pod({"app": "rook-ceph-operator"}, {"prometheus.io/scrape": "true"}),
        _pod(),
        _pod({"app": "rook-ceph-osd"}, {"vault-storage-injector.io/inject": "false"}),
        _pod(
            {"app": "rook-ceph-osd"},
            {"kubernetes.io/config.mirror": "abc", "vault-storage-injector.io/inject": "true"},
        ),
    ],
    ids=["mon", "operator", "no-metadata-maps", "osd-opted-out", "mirror-pod"],
)
def test_pods_no_profile_can_match_never_reach_the_webhook(base: list[Obj], pod: Obj) -> None:
    assert not _admitted(_entries(base)[RESOURCE_ENTRY["pods"]], pod)


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
