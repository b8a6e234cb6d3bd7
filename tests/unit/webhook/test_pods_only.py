"""Pods-only mode: the pods a Portworx DaemonSet or the Portworx operator creates get, at their
creation, everything the DaemonSet or StorageCluster path gives.

Pods-only mode only removes the webhook configuration's DaemonSet and StorageCluster entries, so
the workload reaches the cluster as git holds it and the webhook sees each pod its controller
creates (`webhook.core.controllers`). For every Portworx DaemonSet here (our own fixtures, the
golden cases' objects, and the real DaemonSets of the shared reference folder when it is
present) the Pod made from the DaemonSet in git, mutated, must equal the pod template the
DaemonSet path would mutate (same env, volumes, mounts, args: the whole pod spec, less the
affinity and tolerations the controller adds), validate strictly, and take nothing more on a
second pass (and, in the default mode, a pod of the mutated DaemonSet takes nothing). For
the operator, the pod made from the StorageCluster in git must get what the
operator renders from the mutated StorageCluster (env, ``-secret_type vault``, the TLS volume
under our name instead of the operator's ``user-`` one), and a pod the operator renders from a
mutated StorageCluster must get nothing (the default mode's pods are not handled twice).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import jsonpatch
import pytest

from tests.integration.manifests.corpus import GOLDEN, OBJECTS, REAL_WORLD, load
from tests.unit.webhook.support import StaticCluster, validate
from webhook.core import constants as c
from webhook.core.config import parse_config
from webhook.core.controllers import daemonset_pod, operator_pod
from webhook.core.model import AdmissionContext, MutationResult
from webhook.core.mutation import build_mutator
from webhook.core.profiles import Config, default_config
from webhook.core.rules.operator_pods import RENDERED_TLS_VOLUME

Obj = dict[str, Any]

TLS_PROFILES = """
profiles:
  - name: px-tls
    type: portworx
    connection: {secret: px-vault, tlsSecret: vault-tls}
  - name: px-operator-tls
    type: portworx-operator
    connection: {secret: px-vault, tlsSecret: vault-tls}
"""
"""A DaemonSet and an operator profile with TLS files (CA and client pair)."""


def _cluster(namespace: str) -> StaticCluster:
    """The caches of a namespace whose px-vault and TLS Secret exist (full TLS shape)."""
    return StaticCluster(
        {namespace: {c.LABEL_ENABLED: c.ENABLED_VALUE}},
        {
            f"{namespace}/px-vault": ["VAULT_ADDR", "VAULT_TOKEN"],
            f"{namespace}/vault-tls": ["ca.crt", "tls.crt", "tls.key"],
        },
    )


CONFIGS = {"built-in": default_config(), "tls": parse_config(TLS_PROFILES, source="tls")}
GROUPS = {"Pod": "", "DaemonSet": "apps", c.STORAGE_CLUSTER_KIND: c.STORAGE_CLUSTER_GROUP}


def mutate(config: Config, obj: Obj, operation: str = "CREATE") -> tuple[MutationResult, Obj]:
    namespace = obj["metadata"]["namespace"]
    ctx = AdmissionContext(
        operation=operation,
        namespace=namespace,
        group=GROUPS[obj["kind"]],
        version="v1",
        kind=obj["kind"],
        webhook_namespace="vault-storage-injector",
        cluster=_cluster(namespace),
    )
    result = build_mutator(config)(obj, ctx)
    return result, jsonpatch.apply_patch(obj, list(result.ops)) if result.ops else obj


def _portworx(obj: Obj) -> bool:
    template = obj["spec"]["template"]["spec"]
    return any(container["name"] == "portworx" for container in template["containers"])


def daemonsets() -> Iterator[Any]:
    """Every Portworx DaemonSet we have: fixtures, golden objects, the reference folder's."""
    for path in sorted((OBJECTS / "storage").glob("*.yaml")):
        yield pytest.param(load(path), id=f"fixture-{path.stem}")
    for case in sorted(GOLDEN.iterdir()):
        request = case / "request.json"
        if not request.exists():
            continue
        obj = json.loads(request.read_text())["request"]["object"]
        if obj and obj.get("kind") == "DaemonSet":
            yield pytest.param(obj, id=f"golden-{case.name}")
    if REAL_WORLD is not None:
        for path in sorted(REAL_WORLD.glob("p*.yaml")):
            obj = load(path)
            if obj.get("kind") == "DaemonSet" and _portworx(obj):
                yield pytest.param(obj, id=f"real-{path.stem}")


def ready_for_pods_only(daemonset: Obj) -> Obj:
    """``daemonset`` as the docs ask for pods-only mode: the controller copies the template's
    metadata, not the DaemonSet's, so our annotations (opt-out, profile) go on the template."""
    out = copy.deepcopy(daemonset)
    ours = {
        k: v
        for k, v in (out["metadata"].get("annotations") or {}).items()
        if k.startswith("vault-storage-injector.io/")
    }
    if ours:
        out["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {})
        out["spec"]["template"]["metadata"]["annotations"].update(ours)
    return out


def _without_placement(spec: Obj) -> Obj:
    return {k: v for k, v in spec.items() if k not in ("affinity", "tolerations")}


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
@pytest.mark.parametrize("daemonset", list(daemonsets()))
def test_a_daemonsets_pod_gets_what_the_daemonset_path_gives_its_template(
    daemonset: Obj, config_name: str
) -> None:
    config = CONFIGS[config_name]
    ds_result, mutated_ds = mutate(config, daemonset)
    pod_result, mutated_pod = mutate(config, daemonset_pod(ready_for_pods_only(daemonset)))
    assert (pod_result.outcome, pod_result.reason) == (ds_result.outcome, ds_result.reason)
    assert pod_result.warnings == ds_result.warnings
    template = mutated_ds["spec"]["template"]["spec"]
    assert _without_placement(mutated_pod["spec"]) == _without_placement(template)
    if pod_result.outcome == "mutated":
        status = mutated_pod["metadata"]["annotations"][c.ANNOTATION_STATUS]
        assert status == c.STATUS_INJECTED
        validate(mutated_pod)
        again, _ = mutate(config, mutated_pod)
        assert (again.outcome, again.reason, list(again.ops)) == (
            "skipped",
            c.SKIP_ALREADY_INJECTED,
            [],
        )
        # The default mode: the pods of the mutated DaemonSet get nothing more.
        default_mode, _ = mutate(config, daemonset_pod(mutated_ds))
        assert (default_mode.reason, list(default_mode.ops)) == (c.SKIP_ALREADY_INJECTED, [])


def test_a_daemonsets_own_annotations_do_not_reach_its_pods() -> None:
    """Why `ready_for_pods_only` exists (and the doctor warns about it): opted out on the
    DaemonSet alone, the DaemonSet path leaves it, but its pods are wired in pods-only mode."""
    daemonset = load(OBJECTS / "storage" / "portworx-daemonset.yaml")
    daemonset["metadata"].setdefault("annotations", {})[c.ANNOTATION_INJECT] = c.INJECT_FALSE
    assert mutate(default_config(), daemonset)[0].reason == c.SKIP_OPTED_OUT
    assert mutate(default_config(), daemonset_pod(daemonset))[0].outcome == "mutated"
    ready = daemonset_pod(ready_for_pods_only(daemonset))
    assert mutate(default_config(), ready)[0].reason == c.SKIP_OPTED_OUT


def storage_clusters() -> Iterator[Any]:
    """StorageClusters as git holds them for pods-only mode: our golden ones with the
    ``secretsProvider: vault`` pods-only needs, and the reference folder's that say vault."""
    for case in ("storagecluster", "storagecluster-000-ca-only"):
        obj = json.loads((GOLDEN / case / "request.json").read_text())["request"]["object"]
        obj["spec"]["secretsProvider"] = "vault"
        yield pytest.param(obj, id=f"golden-{case}")
    if REAL_WORLD is not None:
        for path in sorted(REAL_WORLD.glob("p*.yaml")):
            obj = load(path)
            if obj.get("kind") == c.STORAGE_CLUSTER_KIND and (
                obj["spec"].get("secretsProvider") == c.SECRET_TYPE_VAULT
            ):
                yield pytest.param(obj, id=f"real-{path.stem}")


def _as_ours(pod: Obj) -> Obj:
    """``pod`` with the operator's name of our TLS volume replaced by ours, env sorted by name
    (the operator renders env from a map) and the status mark dropped."""
    out = copy.deepcopy(pod)
    out["metadata"].pop("annotations", None)
    spec = out["spec"]
    for volume in spec.get("volumes", []):
        if volume["name"] == RENDERED_TLS_VOLUME:
            volume["name"] = c.TLS_VOLUME_NAME
    for container in spec["containers"]:
        container["env"] = sorted(container.get("env", []), key=lambda e: e["name"])
        for mount in container.get("volumeMounts", []):
            if mount["name"] == RENDERED_TLS_VOLUME:
                mount["name"] = c.TLS_VOLUME_NAME
                mount.pop("mountPropagation", None)
    return out


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
@pytest.mark.parametrize("cluster", list(storage_clusters()))
def test_an_operator_pod_gets_what_the_storage_cluster_path_makes_the_operator_render(
    cluster: Obj, config_name: str
) -> None:
    config = CONFIGS[config_name]
    sc_result, mutated_sc = mutate(config, cluster, "UPDATE")
    assert sc_result.outcome == "mutated", sc_result
    default_mode_pod = operator_pod(mutated_sc)
    pod_result, pods_only_pod = mutate(config, operator_pod(cluster))
    assert pod_result.outcome == "mutated", pod_result
    assert pod_result.profile == sc_result.profile
    assert _as_ours(pods_only_pod) == _as_ours(default_mode_pod)
    validate(pods_only_pod)
    again, _ = mutate(config, pods_only_pod)
    assert (again.reason, list(again.ops)) == (c.SKIP_ALREADY_INJECTED, [])


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
@pytest.mark.parametrize("cluster", list(storage_clusters()))
def test_in_the_default_mode_an_operator_pod_is_not_handled_twice(
    cluster: Obj, config_name: str
) -> None:
    config = CONFIGS[config_name]
    _, mutated_sc = mutate(config, cluster, "UPDATE")
    result, _ = mutate(config, operator_pod(mutated_sc))
    assert (result.reason, list(result.ops), list(result.warnings)) == (
        c.SKIP_OPERATOR_MANAGED,
        [],
        [],
    )


def test_the_portworx_profile_never_applies_to_an_operator_pod() -> None:
    config = parse_config(
        """
profiles:
  - {name: daemonset, type: portworx, connection: {secret: px-vault-ds}}
  - {name: operator, type: portworx-operator, connection: {secret: px-vault}}
""",
        source="t",
    )
    cluster = {
        "apiVersion": "core.libopenstorage.org/v1",
        "kind": "StorageCluster",
        "metadata": {"name": "px", "namespace": "portworx"},
        "spec": {"secretsProvider": "vault"},
    }
    result, pod = mutate(config, operator_pod(cluster))
    assert result.profile == "operator"
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for e in pod["spec"]["containers"][0]["env"]
        if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]
    }
    assert refs == {"px-vault"}


def test_an_operator_pod_with_another_provider_names_its_storage_cluster() -> None:
    cluster = {
        "apiVersion": "core.libopenstorage.org/v1",
        "kind": "StorageCluster",
        "metadata": {"name": "px-main", "namespace": "portworx"},
        "spec": {},  # the operator defaults secretsProvider to k8s
    }
    result, _ = mutate(default_config(), operator_pod(cluster))
    assert result.reason == c.SKIP_OPERATOR_MANAGED
    assert result.warnings == (
        "-secret_type k8s from StorageCluster px-main: it needs secretsProvider: vault; "
        "Vault settings not added",
    )


def test_a_daemonset_pod_with_the_operators_label_is_still_the_daemonsets() -> None:
    """A DaemonSet whose template copied the operator's label (the operator's own test specs
    do) is a DaemonSet install: its pods get the ``portworx`` profile, as the DaemonSet."""
    config = parse_config(
        """
profiles:
  - {name: daemonset, type: portworx, connection: {secret: px-vault}}
  - {name: operator, type: portworx-operator, connection: {secret: px-vault}}
""",
        source="t",
    )
    daemonset = load(OBJECTS / "storage" / "portworx-daemonset.yaml")
    labels = daemonset["spec"]["template"]["metadata"].setdefault("labels", {})
    labels["operator.libopenstorage.org/managed-by"] = "portworx"
    result, _ = mutate(config, daemonset_pod(daemonset))
    assert result.profile == "daemonset"


@pytest.mark.skipif(REAL_WORLD is None, reason="the shared reference folder is not here")
def test_the_reference_operator_pods_are_wired_once() -> None:
    """p15 (the operator's pod template, no provider) is wired; p16 (rendered from a
    StorageCluster the webhook mutated, with a CA-only TLS Secret) is left as it is."""
    assert REAL_WORLD is not None
    p15 = load(REAL_WORLD / "p15-op-envoverride-pod.yaml")
    result, wired = mutate(default_config(), p15)
    assert result.outcome == "mutated"
    assert result.profile == "portworx-operator"
    validate(wired)
    args = wired["spec"]["containers"][0]["args"]
    assert args[-2:] == [c.SECRET_TYPE_FLAG, c.SECRET_TYPE_VAULT]
    ca_only = parse_config(
        """
profiles:
  - {name: px, type: portworx-operator, connection: {secret: px-vault, tlsSecret: vault-tls}}
""",
        source="t",
    )
    p16 = load(REAL_WORLD / "p16-derived-operator-pod-from-p10.yaml")
    namespace = p16["metadata"]["namespace"]
    view = StaticCluster(
        {namespace: {c.LABEL_ENABLED: c.ENABLED_VALUE}},
        {
            f"{namespace}/px-vault": ["VAULT_ADDR", "VAULT_TOKEN"],
            f"{namespace}/vault-tls": ["ca.crt"],
        },
    )
    ctx = AdmissionContext("CREATE", namespace, "", "v1", "Pod", cluster=view)
    left = build_mutator(ca_only)(p16, ctx)
    assert (left.reason, list(left.ops), list(left.warnings)) == (
        c.SKIP_OPERATOR_MANAGED,
        [],
        [],
    )


def test_the_fixtures_are_there() -> None:
    """The parametrised tests above run over our own fixtures whatever the reference folder."""
    ids = [p.id for p in daemonsets()]
    assert any(i.startswith("fixture-") for i in ids)
    assert any(i.startswith("golden-") for i in ids)
