"""Rook in Vault-KMS mode, end to end: the keys Rook's operator stores, the pods the webhook made.

The Vault side is what `manifests/examples/rook/vault` gives Rook: a KV v2 mount ``rook``, Rook's
own token with the create/read/update policy (``rook-kms-operator-kv2.hcl``), and the OSD
injector's read-only token (``rook-kms-osd-kv2.hcl``). A key is stored the way Rook's operator
stores one (`pkg/daemon/ceph/osd/kms/kms.go`, putSecret): a read that finds nothing, then a plain
write without CAS of ``{rook-ceph-osd-encryption-key-<pvc>: <base64 of 128 random bytes>}``.
The pods are the golden cases' mutated objects, started the way the kubelet would start them
(`tests.integration.contract.kubelet`), the OSD's data PVC a LUKS file formatted with cryptsetup;
Rook's own cluster DNS name for Vault is the fixture's mutual-TLS port.
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import pytest
from hvac.exceptions import Forbidden, InvalidPath

from demo.luks import format_file
from demo.openbao import OpenBao
from injector.keys.luks import cryptsetup_binary
from tests.integration.contract.kubelet import Node, Pod, Started
from tests.integration.contract.test_webhook_to_injector import container, mutated, run
from webhook.core import constants as c

POLICIES = Path(__file__).resolve().parents[3] / "manifests" / "examples" / "rook" / "vault"
MOUNT = "rook"
"""The profile's (and the CephCluster's) VAULT_BACKEND_PATH in the golden cases."""
PVC = "set1-data-1-7rxkq"
KEY_NAME = f"rook-ceph-osd-encryption-key-{PVC}"
VAULT_DNS = "https://vault.default.svc.cluster.local:8200"
"""VAULT_ADDR of the golden cases' profile and CephCluster."""


@dataclass
class RookVault:
    """An OpenBao server set up for Rook's KMS mode, with the two tokens."""

    server: OpenBao
    rook: hvac.Client
    """Rook's own client: its token has the create/read/update policy."""
    rook_token: str
    osd_token: str
    """The OSD pods' injector's read-only token."""

    def store_as_rooks_operator(self, key: str) -> None:
        """putSecret: look first (nothing there), then a plain write, no CAS."""
        with pytest.raises(InvalidPath):
            self.rook.secrets.kv.v2.read_secret_version(
                path=KEY_NAME, mount_point=MOUNT, raise_on_deleted_version=True
            )
        self.rook.secrets.kv.v2.create_or_update_secret(
            path=KEY_NAME, secret={KEY_NAME: key}, mount_point=MOUNT
        )

    def stored(self) -> Any:
        return self.rook.secrets.kv.v2.read_secret_version(
            path=KEY_NAME, mount_point=MOUNT, raise_on_deleted_version=True
        )["data"]


@pytest.fixture
def rook_vault(openbao_factory: Callable[[], OpenBao]) -> RookVault:
    server = openbao_factory()  # its own server: the profile names the mount "rook"
    root = server.client()
    root.sys.enable_secrets_engine("kv", path=MOUNT, options={"version": "2"})
    tokens = {}
    for role in ("operator", "osd"):
        root.sys.create_or_update_policy(
            f"rook-kms-{role}", (POLICIES / f"rook-kms-{role}-kv2.hcl").read_text()
        )
        created = root.auth.token.create(policies=[f"rook-kms-{role}"], no_parent=True)
        tokens[role] = created["auth"]["client_token"]
    rook = server.client(token=tokens["operator"])
    return RookVault(server, rook, tokens["operator"], tokens["osd"])


def rook_key() -> str:
    """A key as Rook's GenerateDmCryptKey makes it: the base64 text of 128 random bytes."""
    return base64.b64encode(os.urandom(128)).decode()


def tls_secrets(server: OpenBao) -> dict[str, dict[str, str | bytes]]:
    """The TLS Secrets the profile names, with Rook's data keys."""
    return {
        "vault-tls-ca-certificate": {"cert": server.ca_cert.read_bytes()},
        "vault-client-cert": {"cert": server.client_cert.read_bytes()},
        "vault-client-key": {"key": server.client_key.read_bytes()},
    }


def luks_disk(tmp_path: Path, key: str, name: str = "pvc.img") -> Path:
    """The OSD's data PVC: a file LUKS-formatted with ``key`` as the passphrase (as ceph-volume
    formats it with the key text Rook hands it)."""
    key_file = tmp_path / f"{name}.key"
    key_file.write_text(key)
    disk = tmp_path / name
    format_file(cryptsetup_binary(), disk, key_file)
    key_file.unlink()
    return disk


def osd_pod(vault: RookVault, tmp_path: Path, disk: Path) -> tuple[dict[str, Any], Pod, Started]:
    """The mutated OSD pod on a node, and its injector as it starts."""
    pod = mutated("rook-kms-osd")
    node = Node(
        "rook-ceph",
        secrets={
            **tls_secrets(vault.server),
            "rook-vault-osd-token": {"token": vault.osd_token},
            "rook-vault-token": {"token": vault.rook_token},
            "rook-ceph-admin-keyring": {"keyring": "[client.admin]\n"},
        },
        block_devices={PVC: disk},
    )
    node.config_maps["rook-config-override"] = {"config": ""}
    running = Pod(pod["spec"], node, tmp_path / "pod")
    injector = running.start(c.INJECTOR_CONTAINER_NAME)
    assert injector.env["VAULT_ADDR"] == VAULT_DNS
    return pod, running, injector


def run_injector(vault: RookVault, pod: dict[str, Any], injector: Started) -> Any:
    return run(
        injector, container(pod, c.INJECTOR_CONTAINER_NAME), VAULT_ADDR=vault.server.mtls_addr
    )


def key_dir(running: Pod) -> Path:
    """The OSD pod's in-memory key volume, as encryption-open sees it at /etc/ceph."""
    return running.start(c.ROOK_OPEN_CONTAINER).path("/etc/ceph")


def test_the_osd_injector_writes_the_key_rooks_operator_stored_byte_for_byte(
    rook_vault: RookVault, tmp_path: Path
) -> None:
    key = rook_key()
    rook_vault.store_as_rooks_operator(key)
    pod, running, injector = osd_pod(rook_vault, tmp_path, luks_disk(tmp_path, key))

    result = run_injector(rook_vault, pod, injector)

    assert result.returncode == 0, result.stderr
    assert '"luks":"unlocks"' in result.stderr
    key_file = key_dir(running) / c.ROOK_KEY_FILE
    assert key_file.read_bytes() == key.encode()  # the text itself is the passphrase
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o400
    assert [p.name for p in key_dir(running).iterdir()] == [c.ROOK_KEY_FILE]


def test_with_no_key_in_vault_the_osd_injector_exits_1_writes_nothing_and_creates_nothing(
    rook_vault: RookVault, tmp_path: Path
) -> None:
    pod, running, injector = osd_pod(rook_vault, tmp_path, luks_disk(tmp_path, rook_key()))

    result = run_injector(rook_vault, pod, injector)

    assert result.returncode == 1, result.stderr
    assert f"no key at {MOUNT}/data/{KEY_NAME}" in result.stderr
    assert list(key_dir(running).iterdir()) == []
    with pytest.raises(InvalidPath):
        rook_vault.stored()


def test_a_key_that_does_not_open_the_osds_luks_header_is_refused(
    rook_vault: RookVault, tmp_path: Path
) -> None:
    rook_vault.store_as_rooks_operator(rook_key())
    other = luks_disk(tmp_path, rook_key())
    pod, running, injector = osd_pod(rook_vault, tmp_path, other)

    result = run_injector(rook_vault, pod, injector)

    assert result.returncode == 1, result.stderr
    assert "does not unlock the LUKS volume" in result.stderr
    assert list(key_dir(running).iterdir()) == []


def test_after_rooks_key_rotation_the_injector_reads_the_new_version_and_it_opens_the_disk(
    rook_vault: RookVault, tmp_path: Path
) -> None:
    old, new = rook_key(), rook_key()
    rook_vault.store_as_rooks_operator(old)
    disk = luks_disk(tmp_path, old)
    # Rook's rotate-key: the new key into the LUKS header first, then a plain overwrite in Vault.
    (tmp_path / "old").write_text(old)
    (tmp_path / "new").write_text(new)
    cheap = ["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"]
    files = [str(tmp_path / "old"), str(disk), str(tmp_path / "new")]
    subprocess.run(
        [cryptsetup_binary(), "luksAddKey", "--batch-mode", *cheap, "--key-file", *files],
        check=True,
        capture_output=True,
        timeout=60,
    )
    rook_vault.rook.secrets.kv.v2.create_or_update_secret(
        path=KEY_NAME, secret={KEY_NAME: new}, mount_point=MOUNT
    )
    assert rook_vault.stored()["metadata"]["version"] == 2
    pod, running, injector = osd_pod(rook_vault, tmp_path, disk)

    result = run_injector(rook_vault, pod, injector)

    assert result.returncode == 0, result.stderr
    assert (key_dir(running) / c.ROOK_KEY_FILE).read_bytes() == new.encode()


def test_the_osd_injectors_token_reads_keys_but_can_neither_create_nor_replace_one(
    rook_vault: RookVault,
) -> None:
    rook_vault.store_as_rooks_operator(rook_key())
    osd = rook_vault.server.client(token=rook_vault.osd_token)
    assert (
        osd.secrets.kv.v2.read_secret_version(
            path=KEY_NAME, mount_point=MOUNT, raise_on_deleted_version=True
        )["data"]["data"]
        == rook_vault.stored()["data"]
    )
    for path in (KEY_NAME, "rook-ceph-osd-encryption-key-new"):
        with pytest.raises(Forbidden):
            osd.secrets.kv.v2.create_or_update_secret(
                path=path, secret={path: rook_key()}, mount_point=MOUNT
            )
    with pytest.raises(Forbidden):
        rook_vault.rook.secrets.kv.v2.delete_metadata_and_all_versions(
            path=KEY_NAME, mount_point=MOUNT
        )


def test_the_prepare_pods_vault_paths_are_files_in_its_mounts_that_rook_reads_as_paths(
    rook_vault: RookVault, tmp_path: Path
) -> None:
    key = rook_key()
    rook_vault.store_as_rooks_operator(key)
    pod = mutated("rook-kms-prepare")
    secrets = tls_secrets(rook_vault.server)
    node = Node(
        "rook-ceph",
        secrets={
            **secrets,
            "rook-vault-token": {"token": rook_vault.rook_token},
            "rook-ceph-mon": {"ceph-username": "client.admin", "fsid": "f", "ceph-secret": "s"},
        },
    )
    node.config_maps["rook-ceph-mon-endpoints"] = {"data": "a=10.0.0.1:6789"}
    provision = Pod(pod["spec"], node, tmp_path / "pod").start(c.ROOK_PROVISION_CONTAINER)
    spec = container(pod, c.ROOK_PROVISION_CONTAINER)

    paths = {
        e["name"]: e["value"]
        for e in spec["env"]
        if e["name"].startswith("VAULT_") and str(e.get("value", "")).startswith("/")
    }

    assert set(paths) == {"VAULT_CACERT", "VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY"}
    sources = {
        "VAULT_CACERT": secrets["vault-tls-ca-certificate"]["cert"],
        "VAULT_CLIENT_CERT": secrets["vault-client-cert"]["cert"],
        "VAULT_CLIENT_KEY": secrets["vault-client-key"]["key"],
    }
    for name, path in paths.items():
        assert "/etc/vault" in path, name  # Rook's mark of a file path (else: a Secret name)
        assert provision.sees(path), name
        assert provision.path(path).read_bytes() == sources[name]
    # And with that environment a Vault client reaches the key as Rook stored it: the injector
    # stands in for Rook's (same VAULT_* names, the same file paths, mutual TLS, server name).
    out = tmp_path / "stand-in"
    out.mkdir()
    result = run(
        provision,
        VAULT_ADDR=rook_vault.server.mtls_addr,
        VSI_LAYOUT="rook",
        VSI_VOLUMES=PVC,
        VSI_OUTPUT_DIR=str(out),
        VSI_NAMESPACE="rook-ceph",
    )
    assert result.returncode == 0, result.stderr
    assert (out / c.ROOK_KEY_FILE).read_bytes() == key.encode()


def test_the_kv1_policies_let_rook_write_without_cas_and_the_injector_only_read(
    openbao: OpenBao,
) -> None:
    """Rook's KMS document makes a KV v1 mount (``vault secrets enable -path=rook kv``)."""
    root = openbao.client()
    mount = f"rook-kv1-{os.urandom(4).hex()}"
    root.sys.enable_secrets_engine("kv", path=mount)
    clients = {}
    for role in ("operator", "osd"):
        policy = (POLICIES / f"rook-kms-{role}-kv1.hcl").read_text()
        name = f"{mount}-{role}"
        root.sys.create_or_update_policy(name, policy.replace('"rook/', f'"{mount}/'))
        token = root.auth.token.create(policies=[name], no_parent=True)["auth"]["client_token"]
        clients[role] = openbao.client(token=token)
    rook, osd = clients["operator"], clients["osd"]
    first, rotated = rook_key(), rook_key()

    rook.secrets.kv.v1.create_or_update_secret(KEY_NAME, {KEY_NAME: first}, mount_point=mount)
    rook.secrets.kv.v1.create_or_update_secret(KEY_NAME, {KEY_NAME: rotated}, mount_point=mount)

    read = osd.secrets.kv.v1.read_secret(KEY_NAME, mount_point=mount)["data"]
    assert read == {KEY_NAME: rotated}
    with pytest.raises(Forbidden):
        osd.secrets.kv.v1.create_or_update_secret(KEY_NAME, {KEY_NAME: first}, mount_point=mount)
    with pytest.raises(Forbidden):
        rook.secrets.kv.v1.delete_secret(KEY_NAME, mount_point=mount)
