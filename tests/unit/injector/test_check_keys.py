"""``--check``'s view of each key state, in-process: what it reports, and that it writes nothing.

The same states as tests/unit/injector/test_key_safety.py (a run's side), asked through
`injector.check.keys.volume` and `injector.check.preflight.key_file_checks` with a scripted Vault
(tests/unit/injector/vault_script.py). Every script holds reads only: a check that tried to
create or write would ask for an item the script does not have, or the wrong endpoint.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from injector import layouts
from injector.check.keys import KeyState, Volumes, volume
from injector.check.preflight import key_file_checks
from injector.vault import endpoints as ep
from injector.vault.kv import KvStore
from tests.unit.injector.vault_script import (
    Expect,
    Script,
    as_json,
    denied,
    kv1_secret,
    kv2_version,
    metadata,
    not_found,
    scripted_session,
)
from vsi_common.report import FAIL, OK, WARN, Check

RAW = bytes(range(32))
KEY = base64.b64encode(RAW).decode()
SPEC = layouts.volume_keys_spec(layouts.DEFAULT_KEY_PATH_TEMPLATE, namespace="ns", pvc="vol")
SECRET = "vault-storage-injector/ns/vol"
PATH_V2, META, PATH_V1 = f"secret/data/{SECRET}", f"secret/metadata/{SECRET}", f"secret/{SECRET}"
READ_CREATE = frozenset({"read", "create"})


def check(
    script: Script,
    version: int = 2,
    caps: frozenset[str] | None = READ_CREATE,
    kv1_allow_overwrite: bool = False,
) -> KeyState:
    """The check of SPEC with the token's capabilities ``caps`` on the key (and metadata) path."""
    store = KvStore(scripted_session(script), "secret", version)
    volumes = Volumes(
        store=store,
        layout=layouts.VOLUME_KEYS,
        seed=None,
        seed_file=None,
        template=layouts.DEFAULT_KEY_PATH_TEMPLATE,
        guard=None,
        capabilities=None if caps is None else {PATH_V2: caps, META: caps, PATH_V1: caps},
        kv1_allow_overwrite=kv1_allow_overwrite,
    )
    state = volume(volumes, SPEC)
    assert not script.items, "the check left part of the script unasked"
    assert not {"KV v2 create", "KV v1 write"} & set(script.endpoints)
    return state


def by_name(state: KeyState) -> dict[str, Check]:
    return {c.name.split(":")[0]: c for c in state.checks}


def test_a_stored_key_is_what_a_run_reads() -> None:
    script = Script(
        Expect(ep.KV2_READ, kv2_version({"key": KEY})), Expect(ep.KV2_METADATA, metadata())
    )

    state = check(script)

    checks = by_name(state)
    assert (state.outcome, state.content, state.cas_required) == ("read", RAW, False)
    assert checks["key"].status == OK
    assert checks["key"].detail == (
        f"{PATH_V2} exists (version 1, created 2026-01-01T00:00:00Z); a run reads it; the key "
        "is 32 bytes"
    )
    assert checks["access"].detail == f"the token may read {PATH_V2}, and create (for new volumes)"


def test_a_missing_key_is_one_a_run_would_create_with_cas_0() -> None:
    state = check(Script(not_found(), not_found()))

    checks = by_name(state)
    assert (state.outcome, state.content) == ("created", None)
    assert checks["key"].detail == (
        f"no key at {PATH_V2} yet: a run would create one, a create-only write (cas=0)"
    )
    assert checks["access"].detail == f"the token may read and create {PATH_V2}"


def test_a_missing_key_the_token_may_not_create_fails_with_the_policy_line() -> None:
    state = check(Script(not_found(), not_found()), caps=frozenset({"read"}))

    access = by_name(state)["access"]
    assert state.outcome is None
    assert access.status == FAIL
    assert access.fix == (
        'add to the token\'s policy: path "secret/data/vault-storage-injector/*" '
        '{ capabilities = ["create", "read"] }'
    )


def test_a_key_whose_metadata_asks_for_check_and_set_is_reported() -> None:
    """The CAS view: a run's create-only writes carry cas=0, so a run still works."""
    state = check(Script(kv2_version({"key": KEY}), metadata(cas_required=True)))

    assert (state.outcome, state.cas_required) == ("read", True)


@pytest.mark.parametrize(
    ("flags", "fix"),
    [
        ({"deleted": True}, f"undelete it: vault kv undelete -mount=secret -versions=3 {SECRET}"),
        ({"destroyed": True}, "restore the key from a backup; never let a new key be made"),
    ],
)
def test_a_deleted_or_destroyed_key_fails_and_says_how_to_get_it_back(
    flags: dict[str, bool], fix: str
) -> None:
    state = check(Script(Expect(ep.KV2_READ, kv2_version(None, version=3, **flags))))

    (failed,) = state.checks
    assert (state.outcome, failed.status) == (None, FAIL)
    assert "refusing to create" in failed.detail
    assert failed.fix.startswith(fix)


def test_a_key_of_the_wrong_length_fails_without_quoting_it() -> None:
    short = base64.b64encode(bytes(16)).decode()

    state = check(Script(kv2_version({"key": short}), metadata()))

    key = by_name(state)["key"]
    assert (state.outcome, key.status) == (None, FAIL)
    assert "decodes to 16 bytes, expected 32" in key.detail
    assert short not in key.detail + key.fix
    assert key.fix.startswith(f"find out what wrote {PATH_V2}")


def test_a_read_vault_itself_denies_asks_for_a_policy_line() -> None:
    state = check(Script(denied()), caps=None)

    (failed,) = state.checks
    assert failed.status == FAIL
    assert failed.fix.startswith("add to the token's policy: path ")


def test_a_403_page_that_is_not_vaults_points_at_the_address_not_the_policy() -> None:
    page = as_json(403, {"message": "forbidden by the gateway"})

    (failed,) = check(Script(page), caps=None).checks

    assert failed.fix == "check that Vault is healthy and that VAULT_ADDR reaches it directly"


# -- KV v1 ---------------------------------------------------------------------------------------


def test_kv1_a_stored_key_with_a_create_only_token_is_safe() -> None:
    state = check(Script(Expect(ep.KV1_READ, kv1_secret({"key": KEY}))), version=1)

    checks = by_name(state)
    assert state.outcome == "read"
    assert checks["create-only"].status == OK
    assert "KV v1, unversioned" in checks["key"].detail


def test_kv1_a_token_that_may_update_warns_on_a_stored_key_and_fails_a_missing_one() -> None:
    """The read-back race of KV v1, seen ahead: with update a racing writer can replace a key."""
    risky = frozenset({"read", "create", "update"})

    stored = check(Script(kv1_secret({"key": KEY})), version=1, caps=risky)
    missing = check(Script(not_found()), version=1, caps=risky)
    accepted = check(Script(not_found()), version=1, caps=risky, kv1_allow_overwrite=True)

    assert (stored.outcome, by_name(stored)["create-only"].status) == ("read", WARN)
    assert (missing.outcome, by_name(missing)["create-only"].status) == (None, FAIL)
    assert (accepted.outcome, by_name(accepted)["create-only"].status) == ("created", WARN)


# -- key files -----------------------------------------------------------------------------------


def test_a_key_file_already_holding_vaults_key_is_kept(tmp_path: Path) -> None:
    (tmp_path / "vol").write_bytes(RAW)
    state = check(Script(kv2_version({"key": KEY}), metadata()))

    checks = key_file_checks(tmp_path, [state])

    assert [(c.name, c.status) for c in checks] == [("output-dir", OK), ("key-file:vol", OK)]
    assert checks[1].detail == f"{tmp_path / 'vol'} already holds this key: a run keeps it"


def test_a_key_file_with_other_bytes_fails_and_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "vol").write_bytes(bytes(32))
    state = check(Script(kv2_version({"key": KEY}), metadata()))

    checks = key_file_checks(tmp_path, [state])

    assert checks[1].status == FAIL
    assert "holds other bytes than the key Vault holds" in checks[1].detail
    assert (tmp_path / "vol").read_bytes() == bytes(32)


def test_a_key_file_where_a_run_would_create_a_new_key_fails(tmp_path: Path) -> None:
    (tmp_path / "vol").write_bytes(RAW)
    state = check(Script(not_found(), not_found()))

    checks = key_file_checks(tmp_path, [state])

    assert checks[1].status == FAIL
    assert checks[1].detail.endswith("already exists, and a run would create a new key for it")
