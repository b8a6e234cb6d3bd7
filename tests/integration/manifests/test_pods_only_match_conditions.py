"""The CEL tests of the webhook configuration, on the pods-only renders.

Pods-only mode is the kustomize component ``manifests/components/pods-only`` (built here through
``manifests/examples/pods-only``) and the chart's ``workloads.mutate=false``. Both must pass
the same validation and CEL tests as the default renders (the validation runs over every
kustomization and chart case in test_build_and_validate.py and the charts' tests), so here:

- the tests of test_match_conditions.py about pods run again, on the pods-only configuration;
- its pod entries are exactly the default configuration's, and it has no other entry: no
  DaemonSet or StorageCluster reaches the webhook;
- in their place, what pods-only mutates: the Pod the DaemonSet controller makes of every
  DaemonSet of the corpus, and the pod the Portworx operator makes of every StorageCluster
  (`webhook.core.controllers`), with their variants: each one the mutator changes reaches the
  pods entry, and no pod of kube-proxy, a CNI, a CSI node plugin or ``portworx-api`` does.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.integration.charts.conftest import render
from tests.integration.manifests.conftest import MANIFESTS, Obj, kustomize
from tests.integration.manifests.corpus import (
    GOLDEN,
    KINDS,
    OBJECTS,
    configs,
    corpus,
    load,
    mutates,
    variants,
)
from tests.integration.manifests.test_match_conditions import (
    RESOURCE_ENTRY,
    ROOK_PODS_ENTRY,
    _entries,
    _reaching,
    test_candidate_pods_reach_the_webhook,
    test_cel_python_answers_false_where_kubernetes_errs_so_the_lint_above_is_needed,
    test_every_expression_reads_only_fields_that_are_there_or_tested,
    test_no_entry_is_called_on_delete_or_connect,
    test_only_rooks_kms_pods_use_the_entry_that_ignores_an_outage,
    test_pods_no_profile_can_match_never_reach_the_webhook,
)
from webhook.core.controllers import daemonset_pod, operator_pod

__all__ = [
    "test_candidate_pods_reach_the_webhook",
    "test_cel_python_answers_false_where_kubernetes_errs_so_the_lint_above_is_needed",
    "test_every_expression_reads_only_fields_that_are_there_or_tested",
    "test_no_entry_is_called_on_delete_or_connect",
    "test_only_rooks_kms_pods_use_the_entry_that_ignores_an_outage",
    "test_pods_no_profile_can_match_never_reach_the_webhook",
]

POD_ENTRIES = {RESOURCE_ENTRY["pods"], ROOK_PODS_ENTRY}


@pytest.fixture(scope="module", params=["kustomize", "chart", "chart-storage-system"])
def base(request: pytest.FixtureRequest) -> list[Obj]:
    """The pods-only configuration: the kustomize example, and the chart in two namespaces."""
    if request.param == "kustomize":
        return kustomize(MANIFESTS / "examples" / "pods-only")
    namespace = "storage-system" if request.param.endswith("storage-system") else None
    values = {"workloads": {"mutate": False}}
    return render(values, namespace=namespace) if namespace else render(values)


@pytest.fixture(scope="module")
def default_base(request: pytest.FixtureRequest, base: list[Obj]) -> list[Obj]:
    """The default configuration of the same source and namespace as `base`."""
    config = next(o for o in base if o["kind"] == "MutatingWebhookConfiguration")
    namespace = config["webhooks"][0]["clientConfig"]["service"]["namespace"]
    if "helm.sh/chart" not in config["metadata"]["labels"]:
        return kustomize(MANIFESTS / "base")
    return render(namespace=namespace)


def test_only_the_pod_entries_are_left_and_they_are_the_defaults(
    base: list[Obj], default_base: list[Obj]
) -> None:
    entries, defaults = _entries(base), _entries(default_base)
    assert set(entries) == POD_ENTRIES
    assert set(defaults) == POD_ENTRIES | {
        RESOURCE_ENTRY["daemonsets"],
        RESOURCE_ENTRY["storageclusters"],
    }
    for name in POD_ENTRIES:
        assert entries[name] == defaults[name], name
    others = [o for o in base if o["kind"] != "MutatingWebhookConfiguration"]
    assert others == [o for o in default_base if o["kind"] != "MutatingWebhookConfiguration"]


def test_no_daemonset_or_storage_cluster_reaches_the_webhook(base: list[Obj]) -> None:
    for original in corpus():
        if original["kind"] == "Pod":
            continue
        resource = KINDS[original["kind"]][2]
        for operation, old in (("CREATE", None), ("UPDATE", original)):
            assert _reaching(base, original, resource, old, operation) == [], original["kind"]


def pods_of(obj: Obj) -> Obj:
    """What pods-only mode sends for ``obj``: the pod itself, or the pod its controller makes."""
    if obj["kind"] == "DaemonSet":
        return daemonset_pod(obj)
    if obj["kind"] == "StorageCluster":
        return operator_pod(obj)
    return obj


def test_every_pod_pods_only_mutates_reaches_the_pods_entry(base: list[Obj]) -> None:
    """The differential test of the default configuration, on the pods the controllers make of
    every corpus object and of each of its variants."""
    every = configs()
    checked = 0
    for original in corpus():
        for obj in variants(original):
            pod = pods_of(obj)
            if not any(mutates(config, pod, "CREATE") for config in every):
                continue
            assert _reaching(base, pod, "pods"), f"{obj['kind']}/{obj['metadata'].get('name')}"
            checked += 1
    assert checked > 100


@pytest.mark.parametrize(
    "path", sorted((OBJECTS / "not-storage").glob("*.yaml")), ids=lambda p: p.stem
)
def test_the_pods_of_daemonsets_that_are_no_storage_never_reach_the_webhook(
    base: list[Obj], path: Any
) -> None:
    assert _reaching(base, daemonset_pod(load(path)), "pods") == []


@pytest.mark.parametrize("path", sorted((OBJECTS / "storage").glob("*.yaml")), ids=lambda p: p.stem)
def test_the_pods_of_portworx_daemonsets_reach_the_pods_entry(base: list[Obj], path: Any) -> None:
    assert _reaching(base, daemonset_pod(load(path)), "pods") == [RESOURCE_ENTRY["pods"]]


def test_the_operators_pods_reach_the_pods_entry(base: list[Obj]) -> None:
    for case in ("storagecluster", "storagecluster-000-ca-only"):
        cluster = json.loads((GOLDEN / case / "request.json").read_text())["request"]["object"]
        ready = copy.deepcopy(cluster)
        ready["spec"]["secretsProvider"] = "vault"
        assert _reaching(base, operator_pod(ready), "pods") == [RESOURCE_ENTRY["pods"]], case


def test_every_pods_test_of_the_default_configuration_runs_here() -> None:
    from tests.integration.manifests import test_match_conditions as default

    pod_tests = {
        "test_candidate_pods_reach_the_webhook",
        "test_pods_no_profile_can_match_never_reach_the_webhook",
        "test_only_rooks_kms_pods_use_the_entry_that_ignores_an_outage",
        "test_every_expression_reads_only_fields_that_are_there_or_tested",
        "test_cel_python_answers_false_where_kubernetes_errs_so_the_lint_above_is_needed",
        "test_no_entry_is_called_on_delete_or_connect",
    }
    assert pod_tests <= set(vars(default))
    assert sorted(pod_tests) == sorted(__all__)
