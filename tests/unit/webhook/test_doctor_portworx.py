"""The doctor checks the Portworx layout: the px-vault Portworx reads itself, where it reads it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.unit.webhook import px_shapes
from vsi_common.report import FAIL, OK, WARN, Check
from webhook.core import constants as c
from webhook.core.config import parse_config
from webhook.core.profiles import Config, default_config
from webhook.doctor import portworx, run
from webhook.doctor.state import (
    DAEMONSET,
    POD,
    STORAGE_CLUSTER,
    ClusterState,
    Failed,
    InstallState,
    Locations,
    NamespaceInfo,
    SecretData,
    Workload,
)

LOC = Locations()
PX_VAULT = {"VAULT_ADDR": b"https://v", "VAULT_AUTH_METHOD": b"kubernetes"}
ROLE = {"VAULT_AUTH_KUBERNETES_ROLE": b"portworx"}


def _state(workloads: list[Workload], secrets: dict[tuple[str, str], Any]) -> ClusterState:
    opted = {c.LABEL_ENABLED: c.ENABLED_VALUE}
    infos = (NamespaceInfo("kube-system", opted, False), NamespaceInfo("portworx", opted, False))
    install = InstallState(None, None, None, (), None)
    return ClusterState(LOC, install, infos, tuple(workloads), (), secrets)


def _checks(state: ClusterState, config: Config | None = None) -> list[Check]:
    profiles = Check("profiles", OK, "built-in")
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    checks, _ = run.assemble(state, config or default_config(), profiles, now)
    return checks


def _layout(checks: list[Check]) -> list[Check]:
    return [k for k in checks if k.name.startswith("portworx-secret:")]


DAEMONSET_WORKLOAD = Workload(DAEMONSET, px_shapes.spec_generator_daemonset(secret_type=None))


def test_the_doctor_reads_px_vault_where_portworx_reads_it() -> None:
    assert portworx.secrets_to_read([DAEMONSET_WORKLOAD], default_config()) == {
        ("portworx", "px-vault")
    }
    in_place = Workload(DAEMONSET, px_shapes.spec_generator_daemonset(namespace="portworx"))
    assert portworx.secrets_to_read([in_place], default_config()) == set()


def test_px_vault_where_portworx_reads_it_is_ok_and_names_the_grant() -> None:
    state = _state(
        [DAEMONSET_WORKLOAD],
        {("portworx", "px-vault"): SecretData("px-vault", {**PX_VAULT, **ROLE})},
    )

    (check,) = _layout(_checks(state))

    assert check.name == "portworx-secret:kube-system/DaemonSet/portworx"
    assert check.status == OK
    assert check.detail == (
        "Portworx reads portworx/px-vault itself (VAULT_ADDR, VAULT_AUTH_KUBERNETES_ROLE, "
        "VAULT_AUTH_METHOD); kube-system/px-account needs get on it (Portworx's px-role)"
    )


def test_a_missing_or_incomplete_px_vault_fails_and_an_unreadable_one_warns() -> None:
    missing = _layout(_checks(_state([DAEMONSET_WORKLOAD], {("portworx", "px-vault"): None})))
    incomplete = _layout(
        _checks(
            _state(
                [DAEMONSET_WORKLOAD],
                {("portworx", "px-vault"): SecretData("px-vault", {"VAULT_AUTH_METHOD": b"k"})},
            )
        )
    )
    forbidden = Failed("get secrets px-vault in portworx", "forbidden", forbidden=True)
    unread = _layout(_checks(_state([DAEMONSET_WORKLOAD], {("portworx", "px-vault"): forbidden})))

    assert [k.status for k in missing + incomplete + unread] == [FAIL, FAIL, WARN]
    assert missing[0].detail.startswith("Portworx reads portworx/px-vault itself, and it is not")
    assert "kubectl -n portworx create secret generic px-vault" in (missing[0].fix or "")
    assert "has no key VAULT_ADDR" in incomplete[0].detail
    assert "cannot read Secrets in portworx" in unread[0].detail


def test_px_vault_in_the_objects_namespace_is_the_secrets_checks_and_needs_no_layout_check() -> (
    None
):
    storage_cluster = Workload(STORAGE_CLUSTER, px_shapes.helm_storage_cluster())
    state = _state([storage_cluster], {("portworx", "px-vault"): SecretData("px-vault", PX_VAULT)})

    checks = _checks(state)

    assert _layout(checks) == []
    assert any(k.name == "secrets:portworx/portworx-operator" for k in checks)


def test_a_profile_secret_namespace_moves_the_check_there() -> None:
    config = parse_config(
        "profiles: [{name: portworx-operator, type: portworx-operator, "
        "connection: {secret: px-vault, secretNamespace: vault-secrets}}]",
        source="p.yaml",
    )
    storage_cluster = Workload(STORAGE_CLUSTER, px_shapes.helm_storage_cluster())
    assert portworx.secrets_to_read([storage_cluster], config) == {("vault-secrets", "px-vault")}
    state = _state(
        [storage_cluster], {("vault-secrets", "px-vault"): SecretData("px-vault", PX_VAULT)}
    )

    (check,) = _layout(_checks(state, config))
    complete = {("vault-secrets", "px-vault"): SecretData("px-vault", {**PX_VAULT, **ROLE})}
    (good,) = _layout(_checks(_state([storage_cluster], complete), config))

    assert check.status == FAIL  # kubernetes auth without its role
    assert check.detail == (
        "Portworx reads vault-secrets/px-vault itself: Secret px-vault in namespace vault-secrets "
        "has no VAULT_TOKEN, VAULT_AUTH_KUBERNETES_ROLE nor AppRole ids"
    )
    assert good.status == OK
    assert good.detail.endswith("portworx/portworx needs get on it (a Role in vault-secrets)")


def test_an_operator_pod_without_its_storage_clusters_settings_is_reported() -> None:
    pod = px_shapes.operator_pod(px_shapes.helm_storage_cluster(provider="k8s"))
    # Rendered from a StorageCluster the webhook mutated: it carries the profile's env.
    vault_env = [
        {
            "name": "VAULT_ADDR",
            "valueFrom": {"secretKeyRef": {"name": "px-vault", "key": "VAULT_ADDR"}},
        }
    ]
    wired = px_shapes.operator_pod(px_shapes.helm_storage_cluster(env=vault_env))
    wired["metadata"]["name"] = "px-cluster-wired"
    state = _state([Workload(POD, pod), Workload(POD, wired)], {})

    objects = [k for k in _checks(state) if k.name.startswith("object:portworx/Pod/")]

    assert [k.name for k in objects] == ["object:portworx/Pod/px-cluster-8kq2z"]
    assert objects[0].status == WARN
    assert "operator-managed" in objects[0].detail
    assert "portworx-operator profile" in (objects[0].fix or "")
