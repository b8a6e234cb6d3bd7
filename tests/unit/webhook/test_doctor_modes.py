"""The doctor's mode checks on StorageClusters, and the mode read from a configuration.

The DaemonSet side runs against the API double in tests/integration/doctor/test_pods_only.py;
here the operator's side, through `webhook.doctor.run.assemble` on a state of our own.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import yaml

from tests.unit.webhook.support import GOLDEN
from vsi_common.report import OK, Check
from webhook.core import constants as c
from webhook.core.profiles import default_config
from webhook.doctor import modes
from webhook.doctor.run import assemble
from webhook.doctor.state import (
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
NS = "portworx"
BASE = Path(__file__).resolve().parents[3] / "manifests" / "base"
WORKLOAD_ENTRIES = {
    "daemonsets.vault-storage-injector.io",
    "storageclusters.vault-storage-injector.io",
}


def _configuration(pods_only: bool) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(
        (BASE / "mutatingwebhookconfiguration.yaml").read_text()
    )
    if pods_only:
        config["webhooks"] = [h for h in config["webhooks"] if h["name"] not in WORKLOAD_ENTRIES]
    return config


def _cluster(case: str, expected: bool = False) -> dict[str, Any]:
    if expected:
        return json.loads((GOLDEN / case / "expected.json").read_text())
    review = json.loads((GOLDEN / case / "request.json").read_text())
    return review["request"]["object"]


def _checks(*clusters: dict[str, Any], pods_only: bool = True) -> dict[str, Check]:
    install = InstallState(_configuration(pods_only), None, None, (), None)
    info = NamespaceInfo(NS, {c.LABEL_ENABLED: c.ENABLED_VALUE}, False)
    secrets = {(NS, "px-vault"): SecretData("px-vault", {"VAULT_ADDR": b"a", "VAULT_TOKEN": b"t"})}
    state = ClusterState(
        LOC, install, (info,), tuple(Workload(STORAGE_CLUSTER, o) for o in clusters), (), secrets
    )
    profiles = Check("profiles", OK, "built-in")
    checks, _ = assemble(state, default_config(), profiles, dt.datetime.now(dt.UTC))
    return {check.name: check for check in checks}


def test_the_mode_comes_from_the_entries_rules() -> None:
    assert modes.mode_of(_configuration(False)) == modes.Mode(
        modes.WORKLOADS, frozenset({"daemonsets", "storageclusters"})
    )
    assert modes.mode_of(_configuration(True)) == modes.Mode(modes.PODS_ONLY, frozenset())
    assert modes.mode_of(None) is None
    assert modes.mode_of(Failed("x", "forbidden", True)) is None
    no_pods = copy.deepcopy(_configuration(False))
    no_pods["webhooks"] = [h for h in no_pods["webhooks"] if h["name"] in WORKLOAD_ENTRIES]
    assert modes.mode_of(no_pods) is None


def test_a_storage_cluster_in_git_with_vault_has_its_pods_wired_at_creation() -> None:
    cluster = _cluster("storagecluster")
    cluster["spec"]["secretsProvider"] = "vault"
    checks = _checks(cluster)
    name = f"{NS}/StorageCluster/{cluster['metadata']['name']}"
    assert checks["webhook-mode"].detail.startswith("pods-only:")
    assert checks[f"object:{name}"].status == OK
    assert "gets profile portworx-operator at creation" in checks[f"object:{name}"].detail
    assert f"leftovers:{name}" not in checks


def test_a_storage_cluster_without_vault_is_a_warning_naming_secrets_provider() -> None:
    cluster = _cluster("storagecluster")  # no secretsProvider: the operator writes k8s
    check = _checks(cluster)[f"object:{NS}/StorageCluster/{cluster['metadata']['name']}"]
    assert check.status == "warn"
    assert "needs secretsProvider: vault" in check.detail


def test_a_mutated_storage_cluster_in_pods_only_mode_holds_leftovers() -> None:
    cluster = _cluster("storagecluster", expected=True)
    name = f"{NS}/StorageCluster/{cluster['metadata']['name']}"
    checks = _checks(cluster)
    leftover = checks[f"leftovers:{name}"]
    assert leftover.status == "warn"
    assert "env VAULT_ADDR, VAULT_TOKEN" in leftover.detail
    assert f"{c.ANNOTATION_STATUS}: {c.STATUS_INJECTED}" in leftover.detail
    # The default mode judges the StorageCluster itself, and has no leftovers.
    default = _checks(cluster, pods_only=False)
    assert default[f"object:{name}"].status == OK
    assert f"leftovers:{name}" not in default


def test_a_profile_annotation_on_the_storage_cluster_itself_is_named() -> None:
    cluster = _cluster("storagecluster")
    cluster["spec"]["secretsProvider"] = "vault"
    cluster["metadata"]["annotations"][c.ANNOTATION_PROFILE] = "portworx-operator"
    check = _checks(cluster)[f"object:{NS}/StorageCluster/{cluster['metadata']['name']}"]
    assert check.status == "warn"
    assert check.fix == 'move it to spec.metadata.annotations."pod/storage"'
    placed = copy.deepcopy(cluster)
    placed["spec"]["metadata"] = {
        "annotations": {"pod/storage": {c.ANNOTATION_PROFILE: "portworx-operator"}}
    }
    fixed = _checks(placed)[f"object:{NS}/StorageCluster/{cluster['metadata']['name']}"]
    assert fixed.status == OK
