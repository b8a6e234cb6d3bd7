"""``vsi-injector --check`` against the real OpenBao: what a run would do, nothing created.

Each case runs the check as a process, reads its JSON report, proves that Vault and the disk are
as they were, scans the output for the token and the key material, and (where the state allows)
then runs the real injector to show that the check's verdict was the run's.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import hvac
import pytest

from demo.openbao import OpenBao
from tests.integration.injector.check_support import (
    READ_ONLY_WRITES,
    VOLUME_KEYS,
    AuditedOpenBao,
    assert_no_secrets,
    files_under,
    kv_state,
    run_check,
    store_volume_key,
)
from tests.integration.injector.conftest import (
    READ_CREATE_V2,
    Result,
    enable_kv,
    read_field,
    run_injector,
    token_with_policy,
    unique,
)


def test_an_existing_key_is_ok_and_the_check_sends_only_reads(
    audited: AuditedOpenBao, tmp_path: Path
) -> None:
    client = audited.client()
    mount = enable_kv(client, 2)
    raw = secrets.token_bytes(32)
    text = store_volume_key(client, mount, "data-0", raw)
    token = token_with_policy(client, READ_CREATE_V2.format(mount=mount))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = audited.env(
        VAULT_TOKEN=token,
        VAULT_BACKEND_PATH=mount,
        VSI_NAMESPACE="ns",
        TMPDIR=str(scratch),
        HOME=str(scratch),
    )
    before, offset = kv_state(client, mount, 2), audited.audit_offset()

    checked = run_check(env, *VOLUME_KEYS, "--volume", "data-0")
    sent = audited.requests_since(offset)

    assert checked.result.code == 0, checked.result.output
    assert checked.status("key:data-0") == "ok"
    path = f"{mount}/data/vault-storage-injector/ns/data-0"
    assert checked.detail("key:data-0").startswith(f"{path} exists (version 1, created 20")
    assert "the key is 32 bytes" in checked.detail("key:data-0")
    assert checked.status("access:data-0") == "ok"
    assert checked.status("auth") == "ok"
    assert checked.detail("kv-version") == f"mount {mount!r} is KV v2 (detected)"
    assert kv_state(client, mount, 2) == before  # same versions, same updated_time
    assert files_under(scratch) == []
    assert sent, "the audit log shows no request at all"
    writes = {p for op, p in sent if op != "read"}
    assert writes == READ_ONLY_WRITES, sent
    assert_no_secrets(checked.result, token, text, raw)

    real = run_injector(env, *VOLUME_KEYS, "--volume", "data-0", "--output-dir", scratch)
    assert real.code == 0, real.output
    assert (scratch / "data-0").read_bytes() == raw


def test_a_missing_key_with_a_create_capable_token_would_be_created_and_is_not(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path
) -> None:
    token = token_with_policy(root_client, READ_CREATE_V2.format(mount=kv2))
    env = openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns")

    checked = run_check(env, *VOLUME_KEYS, "--volume", "new", "--output-dir", out_dir)

    path = f"{kv2}/data/vault-storage-injector/ns/new"
    assert checked.result.code == 0, checked.result.output
    assert checked.status("key:new") == "ok"
    assert checked.detail("key:new") == (
        f"no key at {path} yet: a run would create one, a create-only write (cas=0)"
    )
    assert checked.detail("access:new") == f"the token may read and create {path}"
    assert checked.detail("output-dir") == f"{out_dir} is writable"
    assert kv_state(root_client, kv2, 2) == {}
    assert files_under(out_dir) == []
    assert_no_secrets(checked.result, token)

    real = run_injector(env, *VOLUME_KEYS, "--volume", "new", "--output-dir", out_dir)
    assert real.code == 0, real.output
    assert list(kv_state(root_client, kv2, 2)) == ["vault-storage-injector/ns/new"]


def test_a_token_that_cannot_create_fails_naming_the_capability_and_the_policy_line(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path
) -> None:
    token = token_with_policy(root_client, f'path "{kv2}/data/*" {{ capabilities = ["read"] }}')
    env = openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns")

    checked = run_check(env, *VOLUME_KEYS, "--volume", "new")

    path = f"{kv2}/data/vault-storage-injector/ns/new"
    assert checked.result.code == 1
    assert checked.status("access:new") == "fail"
    assert checked.detail("access:new") == (
        f"the token may read {path} but not create it (its capabilities there: read), so a run "
        "could not store the missing key"
    )
    assert checked.fix("access:new") == (
        f'add to the token\'s policy: path "{kv2}/data/vault-storage-injector/*" '
        '{ capabilities = ["create", "read"] }'
    )
    assert [c for c, v in checked.checks.items() if v["status"] == "fail"] == ["access:new"]
    assert checked.detail("key:new").endswith("(refused: access:new)")
    assert_no_secrets(checked.result, token)

    real = run_injector(env, *VOLUME_KEYS, "--volume", "new", "--output-dir", out_dir)
    assert real.code == 1
    assert "the policy needs create" in real.stderr


def test_a_token_without_the_default_policy_is_a_warning_as_its_run_succeeds(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path
) -> None:
    """No lookup-self (the default policy grants it), but the key policy: a run never asks."""
    policy = unique("keys")
    root_client.sys.create_or_update_policy(policy, READ_CREATE_V2.format(mount=kv2))
    token = root_client.auth.token.create(policies=[policy], no_default_policy=True)["auth"][
        "client_token"
    ]
    env = openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns")

    checked = run_check(env, *VOLUME_KEYS, "--volume", "v")
    real = run_injector(env, *VOLUME_KEYS, "--volume", "v", "--output-dir", out_dir)

    assert real.code == 0, real.output
    assert checked.result.code == 0, checked.result.output
    assert checked.status("auth") == "warn"
    assert "auth/token/lookup-self was denied" in checked.detail("auth")
    assert_no_secrets(checked.result, token)


def test_a_revoked_token_fails_the_check_as_its_run_fails(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path
) -> None:
    token = token_with_policy(root_client, READ_CREATE_V2.format(mount=kv2))
    root_client.auth.token.revoke(token)
    env = openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns")

    checked = run_check(env, *VOLUME_KEYS, "--volume", "v")
    real = run_injector(env, *VOLUME_KEYS, "--volume", "v", "--output-dir", out_dir)

    assert real.code == 1
    assert checked.result.code == 1
    assert checked.status("auth") == "warn"
    assert [n for n, c in checked.checks.items() if c["status"] == "fail"]
    assert_no_secrets(checked.result, token)


def test_a_token_that_cannot_read_fails_before_any_read(
    openbao: OpenBao, root_client: hvac.Client, kv2: str
) -> None:
    token = token_with_policy(
        root_client, f'path "{kv2}/data/elsewhere/*" {{ capabilities = ["read"] }}'
    )
    env = openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=kv2, VAULT_BACKEND="kv-v2")

    checked = run_check(env, "--layout", "rook", "--volume", "osd-0")

    assert checked.result.code == 1
    assert checked.status("access:osd-0") == "fail"
    assert "may not read" in checked.detail("access:osd-0")
    assert checked.fix("access:osd-0") == (
        f'add to the token\'s policy: path "{kv2}/data/rook-ceph-osd-encryption-key-*" '
        '{ capabilities = ["read"] }'
    )
    assert "key:osd-0" not in checked.checks


def test_a_key_of_the_wrong_length_fails_without_showing_it(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path
) -> None:
    raw = secrets.token_bytes(31)
    text = store_volume_key(root_client, kv2, "short", raw)
    env = openbao.env(VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns")
    before = kv_state(root_client, kv2, 2)

    checked = run_check(env, *VOLUME_KEYS, "--volume", "short")

    assert checked.result.code == 1
    assert checked.status("key:short") == "fail"
    assert "the stored key decodes to 31 bytes, expected 32" in checked.detail("key:short")
    assert "restore the key this volume was formatted with" in checked.fix("key:short")
    assert kv_state(root_client, kv2, 2) == before
    assert_no_secrets(checked.result, openbao.root_token, text, raw)

    real = run_injector(env, *VOLUME_KEYS, "--volume", "short", "--output-dir", out_dir)
    assert real.code == 1


def test_a_soft_deleted_key_fails_with_the_undelete_command(
    openbao: OpenBao, root_client: hvac.Client, kv2: str
) -> None:
    raw = secrets.token_bytes(32)
    store_volume_key(root_client, kv2, "gone", raw)
    root_client.secrets.kv.v2.delete_latest_version_of_secret(
        "vault-storage-injector/ns/gone", mount_point=kv2
    )
    env = openbao.env(VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns")

    checked = run_check(env, *VOLUME_KEYS, "--volume", "gone", keys=[raw])

    assert checked.result.code == 1
    assert "(version 1) is soft-deleted" in checked.detail("key:gone")
    assert checked.fix("key:gone") == (
        f"undelete it: vault kv undelete -mount={kv2} -versions=1 vault-storage-injector/ns/gone"
    )


def test_the_table_for_people_puts_each_fix_under_its_failing_check(
    openbao: OpenBao, root_client: hvac.Client, kv2: str
) -> None:
    token = token_with_policy(root_client, f'path "{kv2}/data/*" {{ capabilities = ["read"] }}')
    env = openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns")

    result = run_injector(env, "--check", *VOLUME_KEYS, "--volume", "new")

    lines = result.stdout.splitlines()
    assert result.code == 1
    assert lines[0].split() == ["STATUS", "CHECK", "DETAIL"]
    failing = next(i for i, line in enumerate(lines) if line.startswith("fail    access:new"))
    assert lines[failing + 1].strip().startswith("fix: add to the token's policy: path \"")
    assert lines[-1].endswith("1 fail")
    assert_no_secrets(result, token)


def test_the_check_reads_what_the_real_run_then_writes(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path
) -> None:
    """The path a check reports is the path a run creates (one key path function for both)."""
    mount = unique("kv")
    enable_kv(root_client, 2, mount)
    env = openbao.env(
        VAULT_BACKEND_PATH=mount, VSI_NAMESPACE="apps", VSI_KEY_PATH_TEMPLATE="keys/{pvc}"
    )

    checked = run_check(env, *VOLUME_KEYS, "--volume", "db")
    real = run_injector(env, *VOLUME_KEYS, "--volume", "db", "--output-dir", out_dir)

    assert checked.detail("key:db").startswith(f"no key at {mount}/data/keys/db yet")
    assert real.code == 0, real.output
    assert (
        base64.b64decode(read_field(root_client, mount, 2, "keys/db", "key"))
        == (out_dir / "db").read_bytes()
    )


@pytest.mark.parametrize(
    "shown",
    [
        "hvs.CAESIJ-token-value-1234",
        base64.b64encode(b"hvs.CAESIJ-token-value-1234").decode(),
        b"hvs.CAESIJ-token-value-1234".hex(),
        "CAESIJ-token",  # a fragment cut out of the middle
    ],
)
def test_the_secret_scan_finds_a_secret_in_any_of_its_forms(shown: str) -> None:
    """The scan every check run goes through must itself be able to fail."""
    leaked = Result(1, f"detail: {shown}\n", "")

    with pytest.raises(AssertionError, match="secret material in the output"):
        assert_no_secrets(leaked, "hvs.CAESIJ-token-value-1234")
    assert_no_secrets(Result(0, "nothing here\n", ""), "hvs.CAESIJ-token-value-1234")
