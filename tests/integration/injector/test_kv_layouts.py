"""End to end against the real OpenBao: both layouts, KV v1 and v2, default and custom mounts."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from pathlib import Path

import hvac
import pytest
from hvac.exceptions import Forbidden, InvalidPath

from demo.openbao import OpenBao
from injector import layouts
from tests.integration.injector.conftest import (
    CREATE_ONLY_V1,
    READ_CREATE_V2,
    enable_kv,
    read_field,
    run_injector,
    stored_volume_key,
    token_with_policy,
    unique,
)


@pytest.mark.parametrize("version", [1, 2])
def test_volume_keys_are_created_once_then_read_back_identically(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path, version: int
) -> None:
    mount = enable_kv(root_client, version)
    policy = (READ_CREATE_V2 if version == 2 else CREATE_ONLY_V1).format(mount=mount)
    env = openbao.env(
        VAULT_TOKEN=token_with_policy(root_client, policy),
        VAULT_BACKEND_PATH=mount,
        VSI_NAMESPACE="apps",
    )
    args = (
        "--layout",
        "volume-keys",
        "--volume",
        "data-0",
        "--volume",
        "data-1",
        "--output-dir",
        out_dir,
    )

    first = run_injector(env, *args)
    assert first.code == 0, first.output
    keys = {pvc: (out_dir / pvc).read_bytes() for pvc in ("data-0", "data-1")}
    (out_dir / "data-0").unlink()
    (out_dir / "data-1").unlink()
    second = run_injector(env, *args)

    assert second.code == 0, second.output
    for pvc, key in keys.items():
        assert len(key) == layouts.VOLUME_KEY_BYTES
        assert (out_dir / pvc).read_bytes() == key
        assert stored_volume_key(root_client, mount, version, "apps", pvc) == key
        assert stat.S_IMODE((out_dir / pvc).stat().st_mode) == 0o400
    assert keys["data-0"] != keys["data-1"]
    outcomes = [
        json.loads(line)["outcome"] for line in first.stderr.splitlines() if '"key ready"' in line
    ]
    assert outcomes == ["created", "created"]
    outcomes = [
        json.loads(line)["outcome"] for line in second.stderr.splitlines() if '"key ready"' in line
    ]
    assert outcomes == ["read", "read"]


def test_default_secret_mount_and_env_only_settings_work(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path
) -> None:
    pvc = unique("pvc")
    env = openbao.env(
        VSI_LAYOUT="volume-keys",
        VSI_VOLUMES=f" {pvc} ,",
        VSI_OUTPUT_DIR=str(out_dir),
        POD_NAMESPACE="team-a",
        VSI_FILE_GROUP_READABLE="true",
    )

    result = run_injector(env)

    assert result.code == 0, result.output
    assert (out_dir / pvc).read_bytes() == stored_volume_key(
        root_client, "secret", 2, "team-a", pvc
    )
    assert stat.S_IMODE((out_dir / pvc).stat().st_mode) == 0o440
    summary = json.loads(result.stderr.strip().splitlines()[-1])
    assert summary["msg"] == "all keys written"
    assert summary["kv_version"] == 2


@pytest.mark.parametrize("version", [1, 2])
def test_rook_stored_key_is_written_byte_for_byte_to_luks_key(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path, version: int
) -> None:
    mount = enable_kv(root_client, version, unique("rook"))
    pvc = "set1-data-0-abcde"
    key_id = f"rook-ceph-osd-encryption-key-{pvc}"
    rook_key = base64.b64encode(secrets.token_bytes(layouts.ROOK_KEY_BYTES)).decode()
    # Rook (libopenstorage/secrets) writes without cas: {"data": {id: key}} on v2, {id: key} on v1.
    body = {"data": {key_id: rook_key}} if version == 2 else {key_id: rook_key}
    logical = f"{mount}/data/{key_id}" if version == 2 else f"{mount}/{key_id}"
    root_client.write_data(logical, data=body)
    env = openbao.env(VAULT_BACKEND_PATH=mount, VAULT_BACKEND="v2" if version == 2 else "v1")

    result = run_injector(env, "--layout", "rook", "--volume", pvc, "--output-dir", out_dir)

    assert result.code == 0, result.output
    assert (out_dir / "luks_key").read_bytes() == rook_key.encode()
    assert os.listdir(out_dir) == ["luks_key"]


def test_rook_layout_without_key_or_seed_fails_and_creates_nothing(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path
) -> None:
    mount = enable_kv(root_client, 2, unique("rook"))

    result = run_injector(
        openbao.env(VAULT_BACKEND_PATH=mount),
        "--layout",
        "rook",
        "--volume",
        "osd-pvc",
        "--output-dir",
        out_dir,
    )

    assert result.code == 1
    assert "no key at" in result.stderr
    assert "never invents a key" in result.stderr
    assert os.listdir(out_dir) == []
    assert _list_or_none(root_client, mount) is None


def _list_or_none(client: hvac.Client, mount: str) -> object:
    try:
        return client.secrets.kv.v2.list_secrets(path="", mount_point=mount)
    except InvalidPath:
        return None


def test_rook_seed_is_migrated_into_vault_once_and_vault_wins_afterwards(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path, tmp_path: Path
) -> None:
    mount = enable_kv(root_client, 2, unique("rook"))
    seed = base64.b64encode(secrets.token_bytes(layouts.ROOK_KEY_BYTES))
    seed_file = tmp_path / "dmcrypt-key"
    seed_file.write_bytes(seed)
    env = openbao.env(VAULT_BACKEND_PATH=mount, VSI_SEED_FILE=str(seed_file))
    args = ("--layout", "rook", "--volume", "osd-1", "--output-dir", out_dir)

    first = run_injector(env, *args)
    seed_file.write_bytes(base64.b64encode(secrets.token_bytes(layouts.ROOK_KEY_BYTES)))
    second = run_injector(env, *args)

    assert first.code == 0, first.output
    assert second.code == 0, second.output
    assert '"outcome":"migrated"' in first.stderr
    assert '"outcome":"read"' in second.stderr
    key_id = "rook-ceph-osd-encryption-key-osd-1"
    assert read_field(root_client, mount, 2, key_id, key_id) == seed.decode()
    assert (out_dir / "luks_key").read_bytes() == seed


def test_soft_deleted_v2_key_is_an_error_naming_path_and_version(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path
) -> None:
    env = openbao.env(VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns")
    args = ("--layout", "volume-keys", "--volume", "gone", "--output-dir", out_dir)
    assert run_injector(env, *args).code == 0
    root_client.secrets.kv.v2.delete_latest_version_of_secret(
        "vault-storage-injector/ns/gone", mount_point=kv2
    )
    (out_dir / "gone").unlink()

    result = run_injector(env, *args)

    assert result.code == 1
    assert f"{kv2}/data/vault-storage-injector/ns/gone (version 1) is soft-deleted" in result.stderr
    assert os.listdir(out_dir) == []
    meta = root_client.secrets.kv.v2.read_secret_metadata(
        "vault-storage-injector/ns/gone", mount_point=kv2
    )
    assert meta["data"]["current_version"] == 1


def test_kv_version_is_detected_for_a_token_that_may_not_read_sys_mounts(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path
) -> None:
    token = token_with_policy(root_client, READ_CREATE_V2.format(mount=kv2))
    limited = openbao.client(token=token)
    with pytest.raises(Forbidden):
        limited.sys.list_mounted_secrets_engines()  # type: ignore[no-untyped-call]  # hvac lacks hints

    result = run_injector(
        openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns"),
        "--layout",
        "volume-keys",
        "--volume",
        "lp",
        "--output-dir",
        out_dir,
    )

    assert result.code == 0, result.output
    assert '"kv_version":2' in result.stderr
    assert (out_dir / "lp").read_bytes() == stored_volume_key(root_client, kv2, 2, "ns", "lp")


def test_detection_failure_names_the_missing_grants(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path
) -> None:
    token = token_with_policy(root_client, 'path "elsewhere/*" { capabilities = ["read"] }')

    result = run_injector(
        openbao.env(VAULT_TOKEN=token, VSI_NAMESPACE="ns", VSI_DEADLINE="3"),
        "--layout",
        "volume-keys",
        "--volume",
        "x",
        "--output-dir",
        out_dir,
    )

    assert result.code == 1
    assert "sys/internal/ui/mounts" in result.stderr
    assert "grant read on sys/mounts" in result.stderr
    assert os.listdir(out_dir) == []


def test_vault_namespace_is_sent_on_every_request(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path
) -> None:
    namespace = unique("tenant")
    root_client.sys.create_namespace(namespace)  # type: ignore[no-untyped-call]  # hvac lacks hints
    in_ns = openbao.client(namespace=namespace)
    enable_kv(in_ns, 2, "keys")

    result = run_injector(
        openbao.env(VAULT_NAMESPACE=namespace, VAULT_BACKEND_PATH="keys", VSI_NAMESPACE="ns"),
        "--layout",
        "volume-keys",
        "--volume",
        "vol",
        "--output-dir",
        out_dir,
    )

    assert result.code == 0, result.output
    assert (out_dir / "vol").read_bytes() == stored_volume_key(in_ns, "keys", 2, "ns", "vol")
    assert _list_or_none(root_client, "keys") is None
