"""``{pv}`` / ``{volume_handle}`` templates: the bound PV comes from an API double (kmock)."""

from __future__ import annotations

from pathlib import Path

import hvac
import kmock
import yaml

from demo.openbao import OpenBao
from tests.integration.injector.conftest import read_field, run_injector_async

PVCS = kmock.resource("", "v1", "persistentvolumeclaims")
PVS = kmock.resource("", "v1", "persistentvolumes")


def _kubeconfig(path: Path, server: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "double", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "kube-api-token-for-the-double"}}],
        "contexts": [{"name": "c", "context": {"cluster": "double", "user": "u"}}],
        "current-context": "c",
    }
    path.write_text(yaml.safe_dump(config))
    return path


async def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = await run_injector_async(env, *args)
    return result.code, result.output


async def test_volume_handle_template_resolves_the_bound_pv(
    openbao: OpenBao,
    root_client: hvac.Client,
    kv2: str,
    tmp_path: Path,
    kmock: kmock.KubernetesEmulator,
) -> None:
    kmock.objects[PVCS, "apps", "data-0"] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-0", "namespace": "apps"},
        "spec": {"volumeName": "pvc-1234"},
        "status": {"phase": "Bound"},
    }
    kmock.objects[PVS, None, "pvc-1234"] = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "pvc-1234"},
        "spec": {"csi": {"driver": "pxd.portworx.com", "volumeHandle": "1122334455"}},
    }
    out_dir = tmp_path / "keys"
    out_dir.mkdir()
    env = openbao.env(
        VAULT_BACKEND_PATH=kv2,
        VSI_NAMESPACE="apps",
        KUBECONFIG=str(_kubeconfig(tmp_path / "kubeconfig", str(kmock.url).rstrip("/"))),
    )
    env.pop("KUBERNETES_SERVICE_HOST", None)

    code, output = await _run(
        env,
        *("--layout", "volume-keys", "--volume", "data-0", "--output-dir", str(out_dir)),
        *("--key-path-template", "by-handle/{pv}/{volume_handle}"),
    )

    assert code == 0, output
    stored = read_field(root_client, kv2, 2, "by-handle/pvc-1234/1122334455", "key")
    assert (out_dir / "data-0").stat().st_size == 32
    assert stored
    assert "kube-api-token-for-the-double" not in output


async def test_unbound_claim_fails_with_a_message_naming_it(
    openbao: OpenBao, kv2: str, tmp_path: Path, kmock: kmock.KubernetesEmulator
) -> None:
    kmock.objects[PVCS, "apps", "pending"] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "pending", "namespace": "apps"},
        "spec": {},
        "status": {"phase": "Pending"},
    }
    out_dir = tmp_path / "keys"
    out_dir.mkdir()
    env = openbao.env(
        VAULT_BACKEND_PATH=kv2,
        VSI_NAMESPACE="apps",
        KUBECONFIG=str(_kubeconfig(tmp_path / "kubeconfig", str(kmock.url).rstrip("/"))),
    )

    code, output = await _run(
        env,
        *("--layout", "volume-keys", "--volume", "pending", "--output-dir", str(out_dir)),
        *("--key-path-template", "{namespace}/{pv}", "--deadline", "3"),
    )

    assert code == 1
    assert "PVC apps/pending is not bound to a PV (phase Pending)" in output
    assert list(out_dir.iterdir()) == []
