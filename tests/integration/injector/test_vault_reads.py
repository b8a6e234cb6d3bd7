"""Reads a preflight check shares with a run, against the real OpenBao: one transport, one table.

Token lookup, capabilities on several paths, the mount serving a path, a KV v2 secret with its
version and its metadata: each returns the promised fields, or None when Vault says there is none.
"""

from __future__ import annotations

from pathlib import Path

import hvac

from demo.openbao import OpenBao
from injector.deadline import Deadline
from injector.keys.policy import KvStore
from injector.settings.vault_env import parse_vault
from injector.vault.schemas import Kv2Secret
from injector.vault.session import VaultSession
from tests.integration.injector.conftest import READ_CREATE_V2, token_with_policy


def _session(openbao: OpenBao, token: str) -> VaultSession:
    settings = parse_vault({"VAULT_ADDR": openbao.addr, "VAULT_TOKEN": token}, Path("/nonexistent"))
    return VaultSession(settings, Deadline(10))


def test_token_capabilities_and_mount_come_from_vaults_own_answers(
    openbao: OpenBao, root_client: hvac.Client, kv2: str
) -> None:
    token = token_with_policy(root_client, READ_CREATE_V2.format(mount=kv2))
    session = _session(openbao, token)
    try:
        info = session.token_lookup()
        caps = session.capabilities([f"{kv2}/data/a", "sys/mounts"])
        mount = session.mount(kv2, "a")
    finally:
        session.close()

    assert info is not None
    assert "default" in info.policies
    assert caps == {f"{kv2}/data/a": frozenset({"create", "read"}), "sys/mounts": {"deny"}}
    assert mount is not None
    assert (mount.type, mount.kv_version) == ("kv", 2)


def test_a_rejected_token_looks_up_as_none(openbao: OpenBao) -> None:
    session = _session(openbao, "hvs.not-a-token-at-all-xxxx")
    try:
        assert session.token_lookup() is None
    finally:
        session.close()


def test_kv2_entry_and_metadata_carry_versions_and_deletion_state(
    openbao: OpenBao, root_client: hvac.Client, kv2: str
) -> None:
    root_client.secrets.kv.v2.create_or_update_secret("k", {"key": "one"}, mount_point=kv2)
    root_client.secrets.kv.v2.create_or_update_secret("k", {"key": "two"}, mount_point=kv2)
    root_client.secrets.kv.v2.delete_latest_version_of_secret("k", mount_point=kv2)
    session = _session(openbao, openbao.root_token)
    store = KvStore(session, kv2, 2)
    try:
        entry = store.read_entry("k")
        metadata = store.read_metadata("k")
        absent = (store.read_entry("absent"), store.read_metadata("absent"))
    finally:
        session.close()

    assert isinstance(entry, Kv2Secret)
    assert (entry.version, entry.live, bool(entry.deletion_time)) == (2, False, True)
    assert metadata is not None
    assert metadata.current_version == 2
    assert sorted(metadata.versions) == [1, 2]
    assert metadata.versions[2].deletion_time
    assert not metadata.versions[1].deletion_time
    assert absent == (None, None)
