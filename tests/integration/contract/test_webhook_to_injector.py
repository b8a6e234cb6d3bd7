"""The contract between the webhook and the injector: the init container the webhook builds runs.

The webhook and the injector are built apart; these tests take the init container out of a
mutated object (the golden expectations), resolve its env the way the kubelet would (values,
``secretKeyRef`` from a Secret, ``fieldRef`` metadata.namespace), map each volume mount to a
directory, run ``python -m injector`` with that env and no arguments against the real OpenBao, and
check that the storage containers of the same pod find their keys where they look for them.
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
from webhook.core import constants as c

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden"


def _mutated(case: str) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads((GOLDEN / case / "expected.json").read_text())
    return obj


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        ct
        for ct in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
        if ct["name"] == name
    )
    return found


def _volume_dirs(pod: dict[str, Any], tmp_path: Path) -> dict[str, Path]:
    """One directory per pod volume, as the kubelet would provide them."""
    dirs = {}
    for volume in pod["spec"]["volumes"]:
        directory = tmp_path / "volumes" / volume["name"]
        directory.mkdir(parents=True)
        dirs[volume["name"]] = directory
    return dirs


def _kubelet_env(
    container: dict[str, Any],
    *,
    namespace: str,
    secrets: dict[str, dict[str, str]],
    mounts: dict[str, Path],
) -> dict[str, str]:
    """The container's env as the kubelet resolves it, with mount paths mapped to directories."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VSI_"))}
    for entry in container["env"]:
        if "value" in entry:
            value = entry["value"]
        elif "secretKeyRef" in entry["valueFrom"]:
            ref = entry["valueFrom"]["secretKeyRef"]
            data = secrets.get(ref["name"], {})
            if ref["key"] not in data:
                assert ref.get("optional") is True, f"required {ref} is missing"
                continue
            value = data[ref["key"]]
        else:
            assert entry["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
            value = namespace
        for mount_path, directory in mounts.items():
            if value == mount_path or value.startswith(mount_path + "/"):
                value = str(directory) + value[len(mount_path) :]
        env[entry["name"]] = value
    return env


def _mounts(container: dict[str, Any], dirs: dict[str, Path]) -> dict[str, Path]:
    return {m["mountPath"]: dirs[m["name"]] for m in container.get("volumeMounts", [])}


def _run(env: dict[str, str], container: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    assert container["command"] == ["vsi-injector"]
    assert "args" not in container, "settings travel in env, never in arguments"
    return subprocess.run(
        [sys.executable, "-m", "injector"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _kv2_mount(openbao: OpenBao) -> str:
    mount = f"contract-{uuid.uuid4().hex[:8]}"
    openbao.client().sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    return mount


def _run_injector_of(
    pod: dict[str, Any], dirs: dict[str, Path], openbao: OpenBao, secret: str, mount: str
) -> subprocess.CompletedProcess[str]:
    """Run the pod's injector with the connection Secret ``secret`` pointing at ``mount``."""
    injector = _container(pod, c.INJECTOR_CONTAINER_NAME)
    secrets = {
        secret: {
            "VAULT_ADDR": openbao.addr,
            "VAULT_TOKEN": openbao.root_token,
            "VAULT_BACKEND_PATH": mount,
        }
    }
    env = _kubelet_env(
        injector,
        namespace=pod["metadata"]["namespace"],
        secrets=secrets,
        mounts=_mounts(injector, dirs),
    )
    return _run(env, injector)


def test_the_rook_osd_injector_migrates_the_seed_where_encryption_open_reads_it(
    openbao: OpenBao, tmp_path: Path
) -> None:
    pod = _mutated("rook-osd-secret-seed")
    pvc = pod["metadata"]["labels"]["ceph.rook.io/pvc"]
    dirs = _volume_dirs(pod, tmp_path)
    # The Rook Secret the seed volume projects: dmcrypt-key -> luks_key.
    seed_volume = next(v for v in pod["spec"]["volumes"] if v["name"] == c.SEED_VOLUME_NAME)
    rook_key = base64.b64encode(os.urandom(128))
    for item in seed_volume["secret"]["items"]:
        (dirs[c.SEED_VOLUME_NAME] / item["path"]).write_bytes(rook_key)
    mount = _kv2_mount(openbao)

    result = _run_injector_of(pod, dirs, openbao, "rook-vault", mount)

    assert result.returncode == 0, result.stderr
    # encryption-open reads /etc/ceph/luks_key from the same volume.
    opener = _container(pod, "encryption-open")
    key_mount = next(m for m in opener["volumeMounts"] if m["name"] == c.ROOK_KEY_VOLUME)
    assert key_mount["mountPath"] == "/etc/ceph"
    assert (dirs[c.ROOK_KEY_VOLUME] / "luks_key").read_bytes() == rook_key
    stored = openbao.client().secrets.kv.v2.read_secret_version(
        path=f"rook-ceph-osd-encryption-key-{pvc}", mount_point=mount, raise_on_deleted_version=True
    )
    assert stored["data"]["data"] == {f"rook-ceph-osd-encryption-key-{pvc}": rook_key.decode()}


def test_the_volume_keys_injector_writes_a_key_the_pvc_user_owns(
    openbao: OpenBao, tmp_path: Path
) -> None:
    pod = _mutated("volume-keys-pod")
    namespace = pod["metadata"]["namespace"]
    dirs = _volume_dirs(pod, tmp_path)
    mount = _kv2_mount(openbao)

    result = _run_injector_of(pod, dirs, openbao, "vsi-vault", mount)

    assert result.returncode == 0, result.stderr
    postgres = _container(pod, "postgres")
    key_mount = next(m for m in postgres["volumeMounts"] if m["name"] == c.KEY_VOLUME_NAME)
    assert key_mount["readOnly"] is True
    key_file = dirs[c.KEY_VOLUME_NAME] / "data-postgres-0"
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
