"""The LUKS guard with real cryptsetup: a later run's key must unlock what the first formatted."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import hvac
from hvac.exceptions import InvalidPath

from demo.luks import format_file
from demo.openbao import OpenBao
from injector.errors import LuksError
from injector.keys import luks
from injector.keys.luks import cryptsetup_binary
from tests.integration.injector.conftest import run_injector

VOLUME_BYTES = 20 * 1024 * 1024


def _luks_format(device: Path, key_file: Path) -> None:
    format_file(cryptsetup_binary(), device, key_file, VOLUME_BYTES)


def test_verify_luks_accepts_the_same_key_and_refuses_a_tampered_one(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path, tmp_path: Path
) -> None:
    env = openbao.env(VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns")
    args = ("--layout", "volume-keys", "--volume", "disk", "--output-dir", out_dir)
    first = run_injector(env, *args)
    assert first.code == 0, first.output
    device = tmp_path / "disk.img"
    _luks_format(device, out_dir / "disk")
    original = (out_dir / "disk").read_bytes()
    (out_dir / "disk").unlink()

    second = run_injector(env, *args, "--verify-luks", device)

    assert second.code == 0, second.output
    assert '"luks":"unlocks"' in second.stderr
    assert (out_dir / "disk").read_bytes() == original

    tampered = base64.b64encode(secrets.token_bytes(32)).decode()
    root_client.secrets.kv.v2.create_or_update_secret(
        "vault-storage-injector/ns/disk", {"key": tampered}, mount_point=kv2
    )

    third = run_injector(env, *args, "--verify-luks", device)

    assert third.code == 1
    assert f"does not unlock the LUKS volume {device}" in third.stderr
    assert list(out_dir.iterdir()) == []


def test_verify_luks_passes_a_device_without_a_luks_header(
    openbao: OpenBao, kv2: str, out_dir: Path, tmp_path: Path
) -> None:
    blank = tmp_path / "blank.img"
    blank.write_bytes(b"\0" * 4096)

    result = run_injector(
        openbao.env(VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns"),
        *(
            "--layout",
            "volume-keys",
            "--volume",
            "new",
            "--output-dir",
            out_dir,
            "--verify-luks",
            blank,
        ),
    )

    assert result.code == 0, result.output
    assert '"luks":"no-luks-header"' in result.stderr
    assert (out_dir / "new").stat().st_size == 32


def test_rook_luks_key_text_unlocks_a_volume_formatted_with_it(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path, tmp_path: Path
) -> None:
    key_id = "rook-ceph-osd-encryption-key-osd-0"
    rook_key = base64.b64encode(secrets.token_bytes(128))
    root_client.write_data(f"{kv2}/data/{key_id}", data={"data": {key_id: rook_key.decode()}})
    key_file = tmp_path / "rook-key"
    key_file.write_bytes(rook_key)
    device = tmp_path / "osd.img"
    _luks_format(device, key_file)

    result = run_injector(
        openbao.env(VAULT_BACKEND_PATH=kv2),
        *(
            "--layout",
            "rook",
            "--volume",
            "osd-0",
            "--output-dir",
            out_dir,
            "--verify-luks",
            device,
        ),
    )

    assert result.code == 0, result.output
    assert (out_dir / "luks_key").read_bytes() == rook_key


def _kv2_key_exists(client: hvac.Client, mount: str, path: str) -> bool:
    try:
        client.secrets.kv.v2.read_secret_metadata(path, mount_point=mount)
    except InvalidPath:
        return False
    return True


def _rook_args(out_dir: Path, seed_file: Path, device: Path) -> tuple[str | Path, ...]:
    return (
        "--layout",
        "rook",
        "--volume",
        "osd-7",
        "--output-dir",
        out_dir,
        "--seed-file",
        seed_file,
        "--verify-luks",
        device,
    )


def test_a_seed_that_does_not_unlock_the_osd_is_refused_before_vault_stores_it(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path, tmp_path: Path
) -> None:
    real = tmp_path / "real-key"
    real.write_bytes(base64.b64encode(secrets.token_bytes(128)))
    device = tmp_path / "osd.img"
    _luks_format(device, real)
    wrong = tmp_path / "wrong-seed"
    wrong.write_bytes(base64.b64encode(secrets.token_bytes(128)))

    result = run_injector(openbao.env(VAULT_BACKEND_PATH=kv2), *_rook_args(out_dir, wrong, device))

    assert result.code == 1
    assert f"the key in the seed file does not unlock the LUKS volume {device}" in result.stderr
    assert not _kv2_key_exists(root_client, kv2, "rook-ceph-osd-encryption-key-osd-7")
    assert list(out_dir.iterdir()) == []


def test_a_seed_that_unlocks_the_osd_is_migrated(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path, tmp_path: Path
) -> None:
    seed = tmp_path / "dmcrypt-key"
    seed.write_bytes(base64.b64encode(secrets.token_bytes(128)))
    device = tmp_path / "osd.img"
    _luks_format(device, seed)

    result = run_injector(openbao.env(VAULT_BACKEND_PATH=kv2), *_rook_args(out_dir, seed, device))

    assert result.code == 0, result.output
    assert '"outcome":"migrated"' in result.stderr
    assert '"luks":"unlocks"' in result.stderr
    key_id = "rook-ceph-osd-encryption-key-osd-7"
    stored = root_client.secrets.kv.v2.read_secret_version(
        key_id, mount_point=kv2, raise_on_deleted_version=True
    )["data"]["data"][key_id]
    assert stored.encode() == seed.read_bytes() == (out_dir / "luks_key").read_bytes()


def test_no_key_is_created_for_a_formatted_volume_whose_key_vault_lacks(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path, tmp_path: Path
) -> None:
    old_key = tmp_path / "lost-key"
    old_key.write_bytes(secrets.token_bytes(32))
    device = tmp_path / "disk.img"
    _luks_format(device, old_key)

    result = run_injector(
        openbao.env(VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns"),
        *("--layout", "volume-keys", "--volume", "formatted", "--output-dir", out_dir),
        *("--verify-luks", device),
    )

    assert result.code == 1
    assert (
        f"the volume at {device} is already formatted but Vault holds no key at "
        f"{kv2}/data/vault-storage-injector/ns/formatted; refusing to create one"
    ) in result.stderr
    assert not _kv2_key_exists(root_client, kv2, "vault-storage-injector/ns/formatted")
    assert list(out_dir.iterdir()) == []


def test_the_luks_check_gets_no_more_than_the_time_left(tmp_path: Path) -> None:
    device = tmp_path / "blank.img"
    device.write_bytes(b"\0" * 4096)

    try:
        luks.check_key(device, b"key", lambda: 0.0)
        refused = ""
    except LuksError as exc:
        refused = str(exc)

    assert "did not finish within the deadline" in refused
