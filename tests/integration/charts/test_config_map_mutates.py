"""The rendered ConfigMap is what the real `vsi-webhook` loads, and it mutates real objects.

For the defaults, each example values file and an image by digest, the chart's config.yaml is
written to a file and given to `vsi-webhook mutate --config`, which runs the webhook's own code on
golden objects (a Portworx DaemonSet, Rook OSD pods in both modes). The mutation must happen, use
the profile the values configure, and give the injected init container the image the webhook's
own Deployment runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.charts.conftest import EXAMPLES, find, render
from tests.integration.manifests.conftest import REPO, Obj

GOLDEN = REPO / "tests" / "golden"
VSI_WEBHOOK = Path(sys.executable).parent / "vsi-webhook"
STATUS = "vault-storage-injector.io/status"
DIGEST = "sha256:" + "cd" * 32


def golden_object(case: str) -> tuple[str, Obj]:
    request = json.loads((GOLDEN / case / "request.json").read_text())["request"]
    return request["namespace"], request["object"]


def mutate(config_text: str, obj: Obj, namespace: str, tmp_path: Path) -> Obj:
    config = tmp_path / "config.yaml"
    config.write_text(config_text)
    source = tmp_path / "object.json"
    source.write_text(json.dumps(obj))
    result = subprocess.run(
        [
            str(VSI_WEBHOOK),
            "mutate",
            "-f",
            str(source),
            "-n",
            namespace,
            "--config",
            str(config),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    mutated: Obj = json.loads(result.stdout)
    return mutated


def chart(values: dict[str, Any] | None = None, values_file: str | None = None) -> tuple[str, str]:
    """(config.yaml of the ConfigMap, the webhook container's image)."""
    files = [EXAMPLES / values_file] if values_file else []
    objects = render(values, value_files=files)
    config = find(objects, "ConfigMap")["data"]["config.yaml"]
    (container,) = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return config, container["image"]


def injector(pod: Obj) -> Obj:
    (found,) = [c for c in pod["spec"]["initContainers"] if c["name"] == "vsi-injector"]
    return found


@pytest.mark.parametrize(
    ("values", "values_file"),
    [({}, None), ({}, "rook-values.yaml"), ({"image": {"digest": DIGEST}}, None)],
    ids=["default", "rook-example", "digest"],
)
def test_a_rook_osd_gets_the_injector_with_the_webhooks_image(
    values: dict[str, Any], values_file: str | None, tmp_path: Path
) -> None:
    config, image = chart(values, values_file)
    namespace, pod = golden_object("rook-osd-secret-seed")
    mutated = mutate(config, pod, namespace, tmp_path)
    assert mutated["metadata"]["annotations"][STATUS] == "injected"
    container = injector(mutated)
    assert container["image"] == image
    assert container["imagePullPolicy"] == "IfNotPresent"
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for e in container["env"]
        if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]
    }
    assert refs == {"rook-vault"}
    if values.get("image"):
        assert image.endswith(f"@{DIGEST}")


def test_the_portworx_example_leaves_px_vault_to_portworxs_own_lookup(tmp_path: Path) -> None:
    """The DaemonSet in kube-system gets -secret_type vault and no reference to px-vault, which
    Portworx reads itself from portworx; the StorageCluster in portworx gets the references."""
    config, _ = chart(values_file="portworx-values.yaml")
    namespace, daemonset = golden_object("portworx-daemonset")
    mutated = mutate(config, daemonset, namespace, tmp_path)
    assert mutated["metadata"]["annotations"][STATUS] == "injected"
    (portworx,) = [
        c for c in mutated["spec"]["template"]["spec"]["containers"] if c["name"] == "portworx"
    ]
    assert not [e for e in portworx["env"] if e["name"].startswith("VAULT_")]
    assert "vault" in portworx["args"][portworx["args"].index("-secret_type") + 1]
    namespace, storage_cluster = golden_object("storagecluster")
    mutated = mutate(config, storage_cluster, namespace, tmp_path)
    addr = next(e for e in mutated["spec"]["env"] if e["name"] == "VAULT_ADDR")
    assert addr["valueFrom"]["secretKeyRef"] == {"name": "px-vault", "key": "VAULT_ADDR"}


def test_the_rook_kms_example_replaces_rooks_key_fetch_with_the_injector(tmp_path: Path) -> None:
    config, image = chart(values_file="rook-kms-values.yaml")
    namespace, pod = golden_object("rook-kms-osd")
    mutated = mutate(config, pod, namespace, tmp_path)
    assert mutated["metadata"]["annotations"][STATUS] == "injected"
    container = injector(mutated)
    assert container["image"] == image
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["VAULT_ADDR"] == "https://vault.example.com:8200"
    assert env["VAULT_AUTH_KUBERNETES_ROLE"] == "rook-ceph-osd-injector"
    assert "encryption-kms-get-kek" not in {c["name"] for c in mutated["spec"]["initContainers"]}
