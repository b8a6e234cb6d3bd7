"""``--check`` per layout against the real OpenBao: KV v1's create-only rule, Rook's seed and KMS
mode (``cas_required``), LUKS, key files already in the output directory.

As in test_check.py, each case proves that nothing changed in Vault or on disk, scans the output
for secrets, and compares the check's verdict with a real run's where the state allows.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import hvac
import pytest

from demo.luks import format_file
from demo.openbao import OpenBao
from injector.keys.luks import cryptsetup_binary
from tests.integration.injector.check_support import (
    VOLUME_KEYS,
    assert_no_secrets,
    files_under,
    kv_state,
    run_check,
    store_volume_key,
)
from tests.integration.injector.conftest import enable_kv, run_injector, token_with_policy


@pytest.mark.parametrize(
    ("capabilities", "existing", "allow", "status", "code"),
    [
        (["create", "read", "update"], True, False, "warn", 0),
        (["create", "read", "update"], False, False, "fail", 1),
        (["create", "read", "update"], False, True, "warn", 0),
        (["create", "read"], True, False, "ok", 0),
        (["create", "read"], False, False, "ok", 0),
    ],
    ids=["update-existing", "update-missing", "update-missing-allowed", "create-only", "new"],
)
def test_kv1_update_is_a_warning_and_a_refused_create_a_failure_as_in_a_run(
    openbao: OpenBao,
    root_client: hvac.Client,
    out_dir: Path,
    capabilities: list[str],
    existing: bool,
    allow: bool,
    status: str,
    code: int,
) -> None:
    mount = enable_kv(root_client, 1)
    text = base64.b64encode(secrets.token_bytes(32)).decode()
    if existing:
        root_client.secrets.kv.v1.create_or_update_secret(
            "vault-storage-injector/ns/v", {"key": text}, mount_point=mount
        )
    listed = ", ".join(f'"{c}"' for c in capabilities)
    token = token_with_policy(root_client, f'path "{mount}/*" {{ capabilities = [{listed}] }}')
    env = openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=mount, VSI_NAMESPACE="ns")
    if allow:
        env["VSI_KV1_ALLOW_OVERWRITE_POLICY"] = "true"
    before = kv_state(root_client, mount, 1)

    checked = run_check(env, *VOLUME_KEYS, "--volume", "v")

    assert checked.status("create-only:v") == status, checked.result.stdout
    assert checked.result.code == code
    assert checked.detail("kv-version") == f"mount {mount!r} is KV v1 (detected)"
    if status != "ok":
        assert 'capabilities = ["create", "read"] }' in checked.fix("create-only:v")
    if "update" in capabilities and existing:
        assert "the create-only guarantee then rests on read-back" in checked.detail(
            "create-only:v"
        )
    assert kv_state(root_client, mount, 1) == before
    assert_no_secrets(checked.result, token, text)

    real = run_injector(env, *VOLUME_KEYS, "--volume", "v", "--output-dir", out_dir)
    assert real.code == code, real.output


ROOK_KEY = "rook-ceph-osd-encryption-key-osd-0"


@pytest.mark.parametrize(
    ("config_readable", "with_seed", "status", "detail"),
    [
        (True, False, "warn", "cas_required=true on mount"),
        (False, False, "warn", "cas_required unknown"),
        (True, True, "ok", "which a run's create-only writes (cas=0) carry"),
    ],
    ids=["kms-mode", "kms-mode-config-unreadable", "default-mode-with-seed"],
)
def test_cas_required_on_a_rook_kms_mount_is_a_warning(
    openbao: OpenBao,
    root_client: hvac.Client,
    kv2: str,
    tmp_path: Path,
    config_readable: bool,
    with_seed: bool,
    status: str,
    detail: str,
) -> None:
    root_client.secrets.kv.v2.configure(cas_required=True, mount_point=kv2)
    text = base64.b64encode(secrets.token_bytes(128)).decode()
    root_client.secrets.kv.v2.create_or_update_secret(
        ROOK_KEY, {ROOK_KEY: text}, cas=0, mount_point=kv2
    )
    policy = f'path "{kv2}/data/*" {{ capabilities = ["create", "read"] }}'
    if config_readable:
        policy += f'\npath "{kv2}/config" {{ capabilities = ["read"] }}'
    token = token_with_policy(root_client, policy)
    env = openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=kv2)
    args = ["--layout", "rook", "--volume", "osd-0"]
    if with_seed:
        seed = tmp_path / "dmcrypt-key"
        seed.write_text(text)
        args += ["--seed-file", str(seed)]
    before = kv_state(root_client, kv2, 2)

    checked = run_check(env, *args)

    assert checked.result.code == 0, checked.result.output
    assert checked.status("cas-required") == status
    assert detail in checked.detail("cas-required")
    if status == "warn":
        assert "Rook's operator writes the OSD keys without check-and-set" in checked.detail(
            "cas-required"
        )
        assert f"{kv2}/config" in checked.fix("cas-required")
    assert checked.status("key:osd-0") == "ok"
    size = "the seed from Rook's Secret" if with_seed else "Rook's base64 text of 128 bytes"
    assert checked.detail("key:osd-0").endswith(f"a run reads it; the key is {size}")
    assert kv_state(root_client, kv2, 2) == before
    assert_no_secrets(checked.result, token, text)


def test_cas_required_is_no_concern_for_the_volume_keys_layout(
    openbao: OpenBao, root_client: hvac.Client, kv2: str
) -> None:
    root_client.secrets.kv.v2.configure(cas_required=True, mount_point=kv2)

    checked = run_check(
        openbao.env(VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns"), *VOLUME_KEYS, "--volume", "x"
    )

    assert checked.status("cas-required") == "ok"
    assert checked.detail("cas-required").startswith(f"cas_required=true on mount {kv2!r}")


def test_rook_with_a_seed_would_migrate_it_and_stores_nothing(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, tmp_path: Path, out_dir: Path
) -> None:
    text = base64.b64encode(secrets.token_bytes(128)).decode()
    seed = tmp_path / "dmcrypt-key"
    seed.write_text(text)
    env = openbao.env(VAULT_BACKEND_PATH=kv2)
    args = ("--layout", "rook", "--volume", "osd-0", "--seed-file", seed)

    checked = run_check(env, *args)

    assert checked.result.code == 0, checked.result.output
    assert checked.detail("seed:osd-0") == f"a run would migrate the seed of {seed}"
    assert "a run would store the seed, a create-only write (cas=0)" in checked.detail("key:osd-0")
    assert kv_state(root_client, kv2, 2) == {}
    assert_no_secrets(checked.result, text)

    real = run_injector(env, *args, "--output-dir", out_dir)
    assert real.code == 0, real.output
    assert '"outcome":"migrated"' in real.stderr
    again = run_check(env, *args)
    assert again.detail("seed:osd-0") == f"Vault already holds the seed of {seed}: no migration"


def test_a_stored_rook_key_that_is_not_the_seed_is_a_warning(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, tmp_path: Path
) -> None:
    stored = base64.b64encode(secrets.token_bytes(128)).decode()
    root_client.secrets.kv.v2.create_or_update_secret(ROOK_KEY, {ROOK_KEY: stored}, mount_point=kv2)
    seed = tmp_path / "dmcrypt-key"
    seed.write_text(base64.b64encode(secrets.token_bytes(128)).decode())

    checked = run_check(
        openbao.env(VAULT_BACKEND_PATH=kv2),
        *("--layout", "rook", "--volume", "osd-0", "--seed-file", seed),
    )

    assert checked.result.code == 0
    assert checked.status("seed:osd-0") == "warn"
    assert "--verify-luks" in checked.fix("seed:osd-0")
    assert_no_secrets(checked.result, stored, seed.read_text())


def test_rook_without_a_seed_and_without_a_key_fails_as_a_run_does(
    openbao: OpenBao, kv2: str, out_dir: Path
) -> None:
    env = openbao.env(VAULT_BACKEND_PATH=kv2)

    checked = run_check(env, "--layout", "rook", "--volume", "osd-9")

    assert checked.result.code == 1
    assert "the rook layout never invents a key" in checked.detail("key:osd-9")
    assert "--seed-file" in checked.fix("key:osd-9")
    assert (
        run_injector(env, "--layout", "rook", "--volume", "osd-9", "--output-dir", out_dir).code
        == 1
    )


def test_a_vault_backend_that_contradicts_the_mount_fails(openbao: OpenBao, kv1: str) -> None:
    env = openbao.env(VAULT_BACKEND_PATH=kv1, VAULT_BACKEND="kv-v2", VSI_NAMESPACE="ns")

    checked = run_check(env, *VOLUME_KEYS, "--volume", "x")

    assert checked.result.code == 1
    assert checked.detail("kv-version") == f"VAULT_BACKEND says KV v2, but mount {kv1!r} is KV v1"
    assert checked.fix("kv-version") == "set VAULT_BACKEND=kv, or unset it to detect the version"


def test_key_files_already_in_the_output_directory_are_compared_not_touched(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path
) -> None:
    raw = secrets.token_bytes(32)
    store_volume_key(root_client, kv2, "same", raw)
    store_volume_key(root_client, kv2, "other", secrets.token_bytes(32))
    (out_dir / "same").write_bytes(raw)
    (out_dir / "other").write_bytes(b"not the key")
    stale = out_dir / ".vsi-tmp-same-0000"
    stale.write_bytes(b"left by a killed run")
    before = {p: p.read_bytes() for p in files_under(out_dir)}
    env = openbao.env(VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns")

    checked = run_check(
        env, *VOLUME_KEYS, "--volume", "same", "--volume", "other", "--output-dir", out_dir
    )

    assert checked.result.code == 1
    assert checked.status("key-file:same") == "ok"
    assert checked.status("key-file:other") == "fail"
    assert "holds other bytes than the key Vault holds" in checked.detail("key-file:other")
    assert {p: p.read_bytes() for p in files_under(out_dir)} == before  # stale temp kept too
    assert_no_secrets(checked.result, raw)


def test_verify_luks_checks_the_key_a_run_would_use_against_the_volume(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, tmp_path: Path
) -> None:
    raw = secrets.token_bytes(32)
    store_volume_key(root_client, kv2, "disk", raw)
    key_file = tmp_path / "formatted-with"
    key_file.write_bytes(raw)
    device = tmp_path / "disk.img"
    format_file(cryptsetup_binary(), device, key_file)
    blank = tmp_path / "blank.img"
    blank.write_bytes(b"\0" * 4096)
    env = openbao.env(VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns")

    unlocks = run_check(env, *VOLUME_KEYS, "--volume", "disk", "--verify-luks", device, keys=[raw])
    formatted_no_key = run_check(env, *VOLUME_KEYS, "--volume", "nokey", "--verify-luks", device)
    not_formatted = run_check(env, *VOLUME_KEYS, "--volume", "fresh", "--verify-luks", blank)
    other = secrets.token_bytes(32)
    store_volume_key(root_client, kv2, "disk", other)
    wrong = run_check(
        env, *VOLUME_KEYS, "--volume", "disk", "--verify-luks", device, keys=[raw, other]
    )

    assert unlocks.detail("luks") == f"the key from Vault unlocks the LUKS volume {device}"
    assert unlocks.result.code == 0
    assert formatted_no_key.status("key:nokey") == "fail"
    assert "is already formatted but Vault holds no key" in formatted_no_key.detail("key:nokey")
    assert not_formatted.status("luks") == "ok"
    assert "has no LUKS header" in not_formatted.detail("luks")
    assert not_formatted.result.code == 0
    assert wrong.status("luks") == "fail"
    assert f"does not unlock the LUKS volume {device}" in wrong.detail("luks")
    assert wrong.result.code == 1


@pytest.mark.parametrize(
    ("template", "status"),
    [("shared/{pvc}", "warn"), ("vault-storage-injector/{namespace}/{pvc}", None)],
)
def test_a_key_path_template_without_the_namespace_is_a_warning(
    openbao: OpenBao, kv2: str, template: str, status: str | None
) -> None:
    """Vault's per-namespace policy (volume-keys setup.sh) can only match a path under the
    namespace: a template without it is named, and the check still passes."""
    env = openbao.env(VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns")
    checked = run_check(env, *VOLUME_KEYS, "--volume", "x", "--key-path-template", template)

    assert checked.result.code == 0, checked.result.output
    if status is None:
        assert "key-paths" not in checked.checks
        return
    assert checked.status("key-paths") == status
    assert "has no {namespace}" in checked.detail("key-paths")
    assert "vault-storage-injector/{namespace}/" in (checked.checks["key-paths"]["fix"] or "")
