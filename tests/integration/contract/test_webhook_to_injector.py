"""The contract between the webhook and the injector: the init container the webhook builds runs.

The webhook and the injector are built apart; these tests take the init container out of a
mutated object (the golden expectations), start it the way the kubelet would
(`tests.integration.contract.kubelet`: env from Secrets, every volume as files), run
``python -m injector`` with that env and no arguments against the real OpenBao, and check that
the storage containers of the same pod find their keys where they look for them.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from demo.openbao import OpenBao
from tests.integration.contract.kubelet import Node, Pod, Started
from webhook.core import constants as c

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden"


def mutated(case: str) -> dict[str, Any]:
    """The object the webhook gives for a golden case."""
    obj: dict[str, Any] = json.loads((GOLDEN / case / "expected.json").read_text())
    return obj


def snapshot_keys(case: str, namespace: str, secret: str) -> set[str]:
    """The key names the case's Secret cache snapshot says ``secret`` holds."""
    data = json.loads((GOLDEN / case / "cluster.json").read_text())
    return set(data["secrets"][f"{namespace}/{secret}"])


def run(started: Started, container: dict[str, Any] | None = None, **extra: str) -> Any:
    """``python -m injector`` with the container's env (plus ``extra``), no arguments."""
    if container is not None:
        assert container["command"] == ["vsi-injector"]
        assert "args" not in container, "settings travel in env, never in arguments"
    return subprocess.run(
        [sys.executable, "-m", "injector"],
        env={**started.env, **extra},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod["spec"]
    found: dict[str, Any] = next(
        ct for ct in spec.get("initContainers", []) + spec["containers"] if ct["name"] == name
    )
    return found


def kv2_mount(client: Any) -> str:
    mount = f"contract-{uuid.uuid4().hex[:8]}"
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    return mount


def test_the_rook_osd_injector_migrates_the_seed_where_encryption_open_reads_it(
    openbao: OpenBao, tmp_path: Path
) -> None:
    pod = mutated("rook-osd-secret-seed")
    pvc = pod["metadata"]["labels"]["ceph.rook.io/pvc"]
    rook_key = base64.b64encode(os.urandom(128))
    mount = kv2_mount(openbao.client())
    node = Node(
        "rook-ceph",
        secrets={
            "rook-vault": {
                "VAULT_ADDR": openbao.addr,
                "VAULT_TOKEN": openbao.root_token,
                "VAULT_BACKEND_PATH": mount,
            },
            # Rook's own Secret, which the seed volume projects (dmcrypt-key -> luks_key).
            f"rook-ceph-osd-encryption-key-{pvc}": {"dmcrypt-key": rook_key},
        },
    )
    node.config_maps["rook-config-override"] = {"config": ""}
    running = Pod(pod["spec"], node, tmp_path)

    result = run(running.start(c.INJECTOR_CONTAINER_NAME), container(pod, "vsi-injector"))

    assert result.returncode == 0, result.stderr
    # encryption-open reads /etc/ceph/luks_key from the same volume.
    assert running.start("encryption-open").path("/etc/ceph/luks_key").read_bytes() == rook_key
    stored = openbao.client().secrets.kv.v2.read_secret_version(
        path=f"rook-ceph-osd-encryption-key-{pvc}", mount_point=mount, raise_on_deleted_version=True
    )
    assert stored["data"]["data"] == {f"rook-ceph-osd-encryption-key-{pvc}": rook_key.decode()}


def test_the_volume_keys_injector_writes_a_key_the_pvc_user_owns(
    openbao: OpenBao, tmp_path: Path
) -> None:
    pod = mutated("volume-keys-pod")
    namespace = pod["metadata"]["namespace"]
    mount = kv2_mount(openbao.client())
    secret = {"VAULT_ADDR": openbao.addr, "VAULT_TOKEN": openbao.root_token}
    node = Node(namespace, secrets={"vsi-vault": {**secret, "VAULT_BACKEND_PATH": mount}})
    running = Pod(pod["spec"], node, tmp_path)

    result = run(running.start(c.INJECTOR_CONTAINER_NAME), container(pod, "vsi-injector"))

    assert result.returncode == 0, result.stderr
    postgres = container(pod, "postgres")
    key_mount = next(m for m in postgres["volumeMounts"] if m["name"] == c.KEY_VOLUME_NAME)
    assert key_mount["readOnly"] is True
    key_file = running.start("postgres").path(f"{key_mount['mountPath']}/data-postgres-0")
    info = key_file.stat()
    assert stat.S_IMODE(info.st_mode) == 0o400
    # The pod runs as 999; the injector hands the file to that user.
    assert (info.st_uid, info.st_gid) == (999, 999)
    stored = openbao.client().secrets.kv.v2.read_secret_version(
        path=f"vault-storage-injector/{namespace}/data-postgres-0",
        mount_point=mount,
        raise_on_deleted_version=True,
    )
    assert base64.b64decode(stored["data"]["data"]["key"]) == key_file.read_bytes()
