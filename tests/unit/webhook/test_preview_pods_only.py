"""`vsi-webhook mutate --pods-only`: a DaemonSet or StorageCluster previewed as the Pod it creates,
run as a real subprocess (`python -m webhook`), as an admin runs it before choosing the mode."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonpatch

from tests.unit.webhook.support import validate
from tests.unit.webhook.test_preview import _object, _run, _write_yaml
from webhook.core import constants as c
from webhook.core.controllers import daemonset_pod


def test_a_daemonset_is_previewed_as_its_pod_with_a_note_on_stderr(tmp_path: Path) -> None:
    daemonset = _object("portworx-daemonset")
    path = _write_yaml(tmp_path, daemonset)

    proc = _run("-f", str(path), "--pods-only", "-o", "json")

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "vsi-webhook: DaemonSet/portworx: pods-only mode: the DaemonSet is not mutated; "
        "previewing the Pod its controller creates",
        # the golden DaemonSet is in kube-system, and Portworx reads portworx/px-vault itself
        "vsi-webhook: warning: DaemonSet/portworx (its Pod): Portworx reads portworx/px-vault "
        "itself, no env added: kube-system/px-account needs get on it (Portworx's px-role)",
    ]
    pod = json.loads(proc.stdout)
    assert pod["kind"] == "Pod"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
    assert pod["metadata"]["annotations"][c.ANNOTATION_STATUS] == c.STATUS_INJECTED
    # Exactly what the default mode puts into the template.
    default = json.loads(_run("-f", str(path), "-o", "json").stdout)
    assert pod["spec"]["containers"] == default["spec"]["template"]["spec"]["containers"]
    validate(pod)


def test_the_patch_applies_to_the_pod_the_controller_creates(tmp_path: Path) -> None:
    daemonset = _object("portworx-daemonset")
    proc = _run("-f", str(_write_yaml(tmp_path, daemonset)), "--pods-only", "-o", "patch")
    assert proc.returncode == 0, proc.stderr
    patched = jsonpatch.apply_patch(daemonset_pod(daemonset), json.loads(proc.stdout))
    assert patched["spec"]["containers"][0]["args"][-2:] == [c.SECRET_TYPE_FLAG, "vault"]


def test_a_storage_cluster_is_previewed_as_the_operators_pod(tmp_path: Path) -> None:
    cluster = _object("storagecluster")
    without = _run("-f", str(_write_yaml(tmp_path, cluster)), "--pods-only", "-o", "json")
    assert without.returncode == 0, without.stderr
    assert "needs secretsProvider: vault" in without.stderr  # the operator's k8s default
    assert "the parts the webhook reads of the Pod" in without.stderr
    ready = copy.deepcopy(cluster)
    ready["spec"]["secretsProvider"] = "vault"
    proc = _run("-f", str(_write_yaml(tmp_path, ready)), "--pods-only", "-o", "json")
    pod = json.loads(proc.stdout)
    env = {e["name"] for e in pod["spec"]["containers"][0]["env"]}
    assert {"VAULT_ADDR", "VAULT_TOKEN"} <= env
    assert "unchanged" not in proc.stderr
    validate(pod)


def test_a_pod_is_previewed_as_without_the_flag(tmp_path: Path) -> None:
    path = _write_yaml(tmp_path, _object("portworx-pod"))
    with_flag = _run("-f", str(path), "--pods-only", "-o", "json")
    assert with_flag.returncode == 0, with_flag.stderr
    assert with_flag.stdout == _run("-f", str(path), "-o", "json").stdout
    assert "pods-only" not in with_flag.stderr
