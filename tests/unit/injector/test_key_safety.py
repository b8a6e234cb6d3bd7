"""The key safety rules, in-process: what a run does with each state a key can be in.

Vault's side is a `Script` (tests/unit/injector/vault_script.py) standing in for the transport;
the reply table, the schemas, the session and `injector.keys.policy` run as they do in a pod. Each
test names the requests the run must make, so a rule that asks one request too many (a create
after a deleted key) or one too few (no read-back) fails here. The same states against the real
OpenBao are in tests/integration/injector.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from injector import layouts
from injector.errors import KeyFailure, KeyFileConflict, VaultError
from injector.keys import output
from injector.keys.policy import get_or_create
from injector.layouts import KeySpec
from injector.vault import endpoints as ep
from injector.vault.kv import KvStore
from tests.unit.injector.vault_script import (
    Expect,
    Script,
    capabilities,
    cas_conflict,
    created,
    denied,
    kv1_secret,
    kv2_version,
    not_found,
    read_back_v1,
    read_back_v2,
    scripted_session,
    written,
)

RAW = bytes(range(32))
KEY = base64.b64encode(RAW).decode()
OTHER_RAW = bytes(range(100, 132))
OTHER = base64.b64encode(OTHER_RAW).decode()
SPEC = layouts.volume_keys_spec(layouts.DEFAULT_KEY_PATH_TEMPLATE, namespace="ns", pvc="vol")
PATH_V2 = "secret/data/vault-storage-injector/ns/vol"
PATH_V1 = "secret/vault-storage-injector/ns/vol"


def kv_store(script: Script, version: int = 2) -> KvStore:
    return KvStore(scripted_session(script), "secret", version)


def fetch(
    script: Script, version: int = 2, spec: KeySpec = SPEC, kv1_allow_overwrite: bool = False
) -> bytes:
    """The key-file bytes a run gets for ``spec``, every item of the script asked."""
    layout = layouts.ROOK if spec.file_name == layouts.ROOK_KEY_FILE else layouts.VOLUME_KEYS
    store = kv_store(script, version)
    key = get_or_create(store, spec, layout, None, kv1_allow_overwrite=kv1_allow_overwrite)
    assert not script.items, "the run left part of the script unasked"
    return key.content


# -- KV v2 ---------------------------------------------------------------------------------------


def test_kv2_a_stored_key_is_read_and_nothing_is_written() -> None:
    script = Script(Expect(ep.KV2_READ, kv2_version({"key": KEY})))

    key = get_or_create(kv_store(script), SPEC, layouts.VOLUME_KEYS, None)

    assert (key.outcome, key.content, key.vault_path) == ("read", RAW, PATH_V2)
    assert script.endpoints == ["KV v2 read"]


def test_kv2_a_missing_key_is_created_with_cas_0_and_proven_by_a_read_back() -> None:
    script = Script(
        Expect(ep.KV2_READ, not_found()),
        Expect(ep.KV2_CREATE, created(1)),
        Expect(ep.KV2_READ, read_back_v2(1)),
    )

    key = get_or_create(kv_store(script), SPEC, layouts.VOLUME_KEYS, None)

    create = script.sent[1]
    assert (create.path, create.body and create.body["options"]) == (PATH_V2, {"cas": 0})
    assert key.outcome == "created"
    assert key.content == base64.b64decode(script.written["key"])
    assert len(key.content) == layouts.VOLUME_KEY_BYTES


def test_kv2_a_cas_conflict_is_followed_by_a_re_read_and_the_stored_key_wins(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = Script(
        Expect(ep.KV2_READ, not_found()),
        Expect(ep.KV2_CREATE, cas_conflict()),
        Expect(ep.KV2_READ, kv2_version({"key": OTHER})),
    )

    with caplog.at_level(logging.INFO, logger="injector.keys"):
        key = get_or_create(kv_store(script), SPEC, layouts.VOLUME_KEYS, None)

    assert (key.outcome, key.content) == ("read", OTHER_RAW)
    assert "key created concurrently, using the stored one" in caplog.messages
    assert script.endpoints == ["KV v2 read", "KV v2 create", "KV v2 read"]


def test_kv2_a_create_only_denial_is_re_read_before_it_counts_as_a_denial() -> None:
    """Under a create-only policy a second writer gets 403: the key someone else made is used."""
    script = Script(not_found(), denied(), kv2_version({"key": OTHER}))

    assert fetch(script) == OTHER_RAW


def test_kv2_a_denied_create_with_no_key_behind_it_fails_after_one_more_try() -> None:
    script = Script(not_found(), denied(), not_found(), denied(), not_found())

    with pytest.raises(VaultError, match=r"permission denied and no key exists"):
        fetch(script)

    assert script.endpoints.count("KV v2 create") == 2


def test_kv2_a_read_back_of_another_version_fails_closed() -> None:
    script = Script(not_found(), created(1), kv2_version({"key": KEY}, version=2))

    with pytest.raises(KeyFailure, match=r"changed right after it was created \(version 2 read"):
        fetch(script)


def test_kv2_a_read_back_with_other_bytes_fails_closed() -> None:
    script = Script(not_found(), created(1), kv2_version({"key": OTHER}, version=1))

    with pytest.raises(KeyFailure, match=r"is not the one just created") as failed:
        fetch(script)

    assert OTHER not in str(failed.value)


def test_kv2_a_create_whose_read_back_finds_nothing_fails_closed() -> None:
    script = Script(not_found(), created(1), not_found())

    with pytest.raises(KeyFailure, match=r"created version 1 .* finds no key"):
        fetch(script)


@pytest.mark.parametrize(
    ("state", "reason"),
    [({"deleted": True}, "is soft-deleted"), ({"destroyed": True}, "is destroyed")],
)
def test_kv2_a_deleted_or_destroyed_key_is_never_replaced(
    state: dict[str, bool], reason: str
) -> None:
    script = Script(Expect(ep.KV2_READ, kv2_version(None, version=3, **state)))

    with pytest.raises(KeyFailure, match=rf"{PATH_V2} \(version 3\) {reason}; refusing to create"):
        fetch(script)

    assert script.endpoints == ["KV v2 read"]  # no create, whatever the policy allows


# -- KV v1 ---------------------------------------------------------------------------------------


def test_kv1_a_write_is_proven_by_its_read_back() -> None:
    script = Script(
        Expect(ep.KV1_READ, not_found()),
        Expect(ep.CAPABILITIES, capabilities(PATH_V1, "create", "read")),
        Expect(ep.KV1_WRITE, written()),
        Expect(ep.KV1_READ, read_back_v1()),
    )

    key = get_or_create(kv_store(script, 1), SPEC, layouts.VOLUME_KEYS, None)

    assert key.outcome == "created"
    assert key.content == base64.b64decode(script.written["key"])


def test_kv1_a_read_back_that_differs_from_the_write_fails_closed() -> None:
    script = Script(
        not_found(), capabilities(PATH_V1, "create", "read"), written(), kv1_secret({"key": OTHER})
    )

    with pytest.raises(KeyFailure, match=r"changed right after it was written") as failed:
        fetch(script, version=1)

    assert OTHER not in str(failed.value)


def test_kv1_a_token_that_may_update_the_key_creates_nothing() -> None:
    script = Script(not_found(), capabilities(PATH_V1, "create", "read", "update"))

    with pytest.raises(KeyFailure, match=r"the token has update there"):
        fetch(script, version=1)

    assert "KV v1 write" not in script.endpoints


def test_kv1_the_operator_may_accept_a_token_that_may_update() -> None:
    script = Script(not_found(), written(), read_back_v1())

    fetch(script, version=1, kv1_allow_overwrite=True)

    assert script.endpoints == ["KV v1 read", "KV v1 write", "KV v1 read"]  # no capabilities asked


# -- key material --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "stored", "reason"),
    [
        (SPEC, base64.b64encode(bytes(16)).decode(), "decodes to 16 bytes, expected 32"),
        (SPEC, base64.b64encode(bytes(33)).decode(), "decodes to 33 bytes, expected 32"),
        (
            layouts.rook_spec("osd-0"),
            base64.b64encode(bytes(64)).decode(),
            "decodes to 64 bytes, expected 128",
        ),
        (SPEC, KEY + "\n", "not standard base64"),
    ],
)
def test_a_stored_key_of_the_wrong_length_or_encoding_is_refused_unquoted(
    spec: KeySpec, stored: str, reason: str
) -> None:
    script = Script(kv2_version({spec.field: stored}))

    with pytest.raises(KeyFailure, match=reason) as failed:
        fetch(script, spec=spec)

    assert stored.strip() not in str(failed.value)
    assert script.endpoints == ["KV v2 read"]


# -- the key file --------------------------------------------------------------------------------

OPTIONS = output.FileOptions(mode=output.OWNER_ONLY, uid=None, gid=None)


def test_a_key_file_already_holding_the_key_vault_holds_is_kept(tmp_path: Path) -> None:
    (tmp_path / "vol").write_bytes(RAW)
    content = fetch(Script(kv2_version({"key": KEY})))

    assert output.write_keys(tmp_path, [output.KeyFile("vol", content)], OPTIONS) == 0
    assert (tmp_path / "vol").read_bytes() == RAW


def test_a_key_file_with_other_bytes_than_vaults_key_fails_closed_and_is_left(
    tmp_path: Path,
) -> None:
    (tmp_path / "vol").write_bytes(OTHER_RAW)
    content = fetch(Script(kv2_version({"key": KEY})))

    with pytest.raises(KeyFileConflict, match=r"holds other bytes than the key Vault holds") as e:
        output.write_keys(tmp_path, [output.KeyFile("vol", content)], OPTIONS)

    assert e.value.kept == {"vol"}
    assert (tmp_path / "vol").read_bytes() == OTHER_RAW
