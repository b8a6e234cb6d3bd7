"""Get-or-create of per-volume keys: the Key safety rules of DESIGN.md in code.

A key is only ever created by a create-only write (KV v2 ``cas=0``); a conflict means someone else
won, so the stored key is re-read and used. A create counts only when Vault proves it: the KV v2
answer names the new version and a read-back finds that version holding our value. KV v1 has no
CAS: write, read back, and fail closed when the stored value is not ours (the create-only policy
makes Vault refuse the second writer outright). Every key, read or made, is checked against its
layout (`injector.layouts.file_bytes`: 32 bytes, or Rook's text) before anything uses it.
A soft-deleted or destroyed KV v2 key is an error, never a reason to make a new one: the volume may
still hold data encrypted with it. Read-back cannot see a writer that comes after our read, so on
KV v1 a key is only created when the token may not ``update`` the path (or the operator opted in).
With a `LuksGuard` (the volume already has a LUKS header) no key is ever invented, and a seed must
unlock the volume before it is stored.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from injector import layouts
from injector.errors import KeyFailure, VaultError
from injector.layouts import KeySpec
from injector.vault.replies import Outcome as Answered
from injector.vault.schemas import (
    Endpoint,
    Kv1Secret,
    Kv2Config,
    Kv2Created,
    Kv2Metadata,
    Kv2Secret,
)
from injector.vault.session import VaultSession
from vsi_common import names
from vsi_common.logs import fields

# The logger keeps the name it had before the package split: it is a field of every JSON line.
log = logging.getLogger("injector.keys")

Outcome = Literal["read", "created", "migrated"]
MAX_WORKERS: Final = 32
"""Most volumes fetched at once (one pooled connection each)."""
OVERWRITE_CAPABILITIES: Final = frozenset({"update", "sudo", "root"})
"""Capabilities that let a KV v1 write replace an existing key (so racing creators can lose one)."""


@dataclass(frozen=True)
class LuksGuard:
    """The volume the key is for already has a LUKS header: ``check`` must accept the key bytes."""

    device: str
    """The device or file, for messages."""
    check: Callable[[bytes, str], None]
    """Raises when the key-file bytes (described by the second argument) do not unlock it."""


@dataclass(frozen=True)
class FetchedKey:
    """A volume's key as it will be written, and how it was obtained."""

    spec: KeySpec
    """Where the key lives and which file gets it."""
    content: bytes = field(repr=False)
    """Exact key-file bytes (secret)."""
    outcome: Outcome
    """``read`` (existed), ``created`` (made now) or ``migrated`` (seed stored now)."""
    vault_path: str
    """Full logical path, e.g. ``secret/data/vault-storage-injector/ns/pvc``."""
    kv_version: int
    """1 or 2."""
    latency_ms: float
    """Time spent on this key, in milliseconds."""


@dataclass(frozen=True)
class KvStore:
    """A KV mount of known version, reached through a session.

    Reads return only what Vault's own answers prove (`injector.vault.replies`); `read_entry` and
    `read_metadata` also give a preflight check the versions and deletion state it reports.
    """

    session: VaultSession
    """The authenticated session."""
    mount: str
    """Mount path without slashes."""
    version: int
    """1 or 2."""
    allow_overwrite_policy: bool = False
    """KV v1: create keys even when the token may update them (VSI_KV1_ALLOW_OVERWRITE_POLICY)."""

    def api_path(self, secret_path: str) -> str:
        """The logical path for reads and writes (``<mount>/data/<path>`` on KV v2)."""
        if self.version == 2:
            return f"{self.mount}/data/{secret_path}"
        return f"{self.mount}/{secret_path}"

    def metadata_path(self, secret_path: str) -> str:
        """KV v2: the logical path of the secret's metadata (``<mount>/metadata/<path>``)."""
        return f"{self.mount}/metadata/{secret_path}"

    def read_entry(self, secret_path: str) -> Kv1Secret | Kv2Secret | None:
        """The secret as Vault holds it (KV v2: with its version and deletion state), or None."""
        path = self.api_path(secret_path)
        endpoint = Endpoint.KV2_READ if self.version == 2 else Endpoint.KV1_READ
        answer = self.session.call(
            endpoint, "GET", path, what=f"reading {path}", accept=(Answered.OK, Answered.NOT_FOUND)
        )
        value = answer.value
        assert value is None or isinstance(value, Kv1Secret | Kv2Secret)
        return value

    def read_metadata(self, secret_path: str) -> Kv2Metadata | None:
        """KV v2: the secret's metadata (versions, CAS), without any value; None when absent."""
        if self.version != 2:
            raise ValueError("KV v1 keeps no metadata")
        path = self.metadata_path(secret_path)
        answer = self.session.call(
            Endpoint.KV2_METADATA,
            "GET",
            path,
            what=f"reading the metadata {path}",
            accept=(Answered.OK, Answered.NOT_FOUND),
        )
        value = answer.value
        assert value is None or isinstance(value, Kv2Metadata)
        return value

    def read_config(self) -> Kv2Config | None:
        """KV v2: the mount's settings (``cas_required``); None when the token may not read them."""
        if self.version != 2:
            raise ValueError("KV v1 has no mount config")
        path = f"{self.mount}/config"
        answer = self.session.call(
            Endpoint.KV2_CONFIG,
            "GET",
            path,
            what=f"reading the mount settings {path}",
            accept=(Answered.OK, Answered.DENIED),
        )
        return answer.value if isinstance(answer.value, Kv2Config) else None

    def read(self, secret_path: str) -> Mapping[str, Any] | None:
        """The stored fields, or None when there is no key; deleted/destroyed KV v2 keys raise."""
        return self.stored_fields(secret_path, self.read_entry(secret_path))

    def stored_fields(
        self, secret_path: str, entry: Kv1Secret | Kv2Secret | None
    ) -> Mapping[str, Any] | None:
        """The fields of a read entry, None for no key; `KeyFailure` for a deleted or destroyed one.

        A run and a preflight check both decide here whether a KV v2 key can be used.
        """
        if entry is None or isinstance(entry, Kv1Secret):
            return None if entry is None else entry.data
        path = self.api_path(secret_path)
        if entry.destroyed:
            raise KeyFailure(
                f"the key at {path} (version {entry.version}) is destroyed; refusing to "
                "create a new one for a volume that may hold data (restore the key or delete "
                "the metadata)"
            )
        if entry.deletion_time or entry.data is None:
            raise KeyFailure(
                f"the key at {path} (version {entry.version}) is soft-deleted; refusing to create "
                f"a new one (undelete it: bao kv undelete -versions={entry.version} ...)"
            )
        return entry.data

    def check_create_only(
        self, secret_path: str, capabilities: frozenset[str] | None = None
    ) -> None:
        """KV v1: raise unless the token cannot overwrite the key path (or the operator opted in).

        Without ``update`` Vault itself refuses a second write to an existing key; with it, racing
        creators each read back their own write and one of them holds a key Vault no longer has.
        ``capabilities`` are the token's on the key path when the caller has asked already (a
        preflight check); otherwise ``sys/capabilities-self`` is asked here.
        """
        if self.version != 1 or self.allow_overwrite_policy:
            return
        path = self.api_path(secret_path)
        if capabilities is None:
            capabilities = self.session.capabilities([path])[path]
        risky = capabilities & OVERWRITE_CAPABILITIES
        if risky:
            raise KeyFailure(
                f"refusing to create the key at {path} on KV v1: the token has "
                f"{', '.join(sorted(risky))} there, so racing injectors could overwrite each "
                "other's key; use the create-only policy (create and read, without update) from "
                f"docs/injector.md, or set {names.VSI_KV1_ALLOW_OVERWRITE_POLICY}=true to accept "
                "the risk"
            )

    def create(self, secret_path: str, field_name: str, text: str) -> bool:
        """Create-only write, then proof; False when a key exists (CAS conflict or refusal).

        True only once Vault has proven it holds exactly ``text``: on KV v2 the create answer names
        the new version and a read-back finds that version with that value; on KV v1 a read-back
        finds the value. Anything else raises `KeyFailure` before the key is used. A 403 is also
        returned as False: under a create-only policy Vault refuses a write to an existing key with
        403, so the caller re-reads and only then decides it was a real denial.
        """
        path = self.api_path(secret_path)
        self.session.redactor.add(text)
        if self.version == 2:
            answer = self.session.call(
                Endpoint.KV2_CREATE,
                "POST",
                path,
                what=f"creating {path}",
                body={"options": {"cas": 0}, "data": {field_name: text}},
                accept=(Answered.OK, Answered.CONFLICT, Answered.DENIED),
            )
            if not isinstance(answer.value, Kv2Created):
                return False
            self._prove_v2(path, secret_path, field_name, text, answer.value.version)
            return True
        answer = self.session.call(
            Endpoint.KV1_WRITE,
            "POST",
            path,
            what=f"creating {path}",
            body={field_name: text},
            accept=(Answered.OK, Answered.DENIED),
        )
        if answer.outcome is not Answered.OK:
            return False
        back = self.read_entry(secret_path)
        if not isinstance(back, Kv1Secret) or back.data.get(field_name) != text:
            raise KeyFailure(
                f"the key at {path} changed right after it was written (another writer?); "
                "refusing to use either (grant create+read without update on KV v1)"
            )
        return True

    def _prove_v2(
        self, path: str, secret_path: str, field_name: str, text: str, version: int
    ) -> None:
        back = self.read_entry(secret_path)
        if not isinstance(back, Kv2Secret):
            raise KeyFailure(
                f"Vault answered that it created version {version} of {path}, but reading it back "
                "finds no key; refusing to use it"
            )
        if back.version != version or not back.live:
            raise KeyFailure(
                f"the key at {path} changed right after it was created (version {back.version} "
                f"read back, version {version} created; another writer?); refusing to use either"
            )
        if back.data is None or back.data.get(field_name) != text:
            raise KeyFailure(
                f"the key at {path} read back (version {version}) is not the one just created; "
                "refusing to use either"
            )


def key_content(
    fields: Mapping[str, Any], spec: KeySpec, path: str, layout: str, seed: bytes | None
) -> bytes:
    """The key-file bytes for a stored secret's fields; `KeyFailure` names why they are unusable.

    The value is never quoted: the message says which field and why (missing, length, encoding).
    """
    value = fields.get(spec.field)
    if not isinstance(value, str):
        raise KeyFailure(f"the secret at {path} has no text field {spec.field!r}")
    try:
        return layouts.file_bytes(layout, value, seed=seed)
    except ValueError as exc:
        raise KeyFailure(f"the key at {path} field {spec.field!r} is unusable: {exc}") from None


def creation(path: str, layout: str, seed: bytes | None, guard: LuksGuard | None) -> Outcome:
    """What a run does when Vault holds no key at ``path``: ``created`` or ``migrated`` (the seed).

    Raises `KeyFailure` when no key may be made: the volume is already formatted (unless a seed
    can be checked against it), or the rook layout has no seed. A preflight check asks the same.
    """
    if guard is not None and (layout != layouts.ROOK or seed is None):
        raise KeyFailure(
            f"the volume at {guard.device} is already formatted but Vault holds no key at "
            f"{path}; refusing to create one"
        )
    if layout == layouts.ROOK:
        if seed is None:
            raise KeyFailure(
                f"no key at {path} and no seed file: the rook layout never invents a key for an "
                "OSD (in Rook's KMS mode its operator stores the key when it prepares the OSD: "
                "check the operator's Vault access and mount; in the default mode, pass "
                "--seed-file with Rook's key Secret)"
            )
        return "migrated"
    return "created"


def _new_text(
    path: str, layout: str, seed: bytes | None, guard: LuksGuard | None
) -> tuple[str, Outcome]:
    """The text of a key to create at ``path``: the seed (rook) or fresh random bytes."""
    outcome = creation(path, layout, seed, guard)
    if seed is not None and outcome == "migrated":
        return seed.decode("ascii"), outcome
    return layouts.stored_text(secrets.token_bytes(layouts.key_size(layout))), outcome


def get_or_create(
    store: KvStore,
    spec: KeySpec,
    layout: str,
    seed: bytes | None,
    guard: LuksGuard | None = None,
) -> FetchedKey:
    """Read the volume's key, or create it safely (rook: only from the seed); never overwrite.

    With a ``guard`` every key returned unlocks the volume, and nothing is written to Vault
    unless it does.
    """
    started = time.monotonic()
    path = store.api_path(spec.secret_path)

    def done(content: bytes, outcome: Outcome) -> FetchedKey:
        latency = (time.monotonic() - started) * 1000
        return FetchedKey(spec, content, outcome, path, store.version, round(latency, 1))

    def checked(content: bytes, source: str) -> bytes:
        if guard is not None:
            guard.check(content, source)
        return content

    redactor = store.session.redactor

    def stored_key(existing: Mapping[str, Any]) -> bytes:
        """The key of an entry read from Vault, its text given to the redactor first."""
        value = existing.get(spec.field)
        redactor.add(value if isinstance(value, str) else None)
        return key_content(existing, spec, path, layout, seed)

    existing = store.read(spec.secret_path)
    if existing is not None:
        content = stored_key(existing)
        return done(checked(content, "from Vault"), "read")

    text, outcome = _new_text(path, layout, seed, guard)
    redactor.add(text)
    content = checked(key_content({spec.field: text}, spec, path, layout, seed), "in the seed file")
    store.check_create_only(spec.secret_path)

    for attempt in range(2):
        if store.create(spec.secret_path, spec.field, text):
            return done(content, outcome)
        existing = store.read(spec.secret_path)
        if existing is not None:
            log.info(
                "key created concurrently, using the stored one", extra=fields(volume=spec.volume)
            )
            stored = stored_key(existing)
            return done(stored if stored == content else checked(stored, "from Vault"), "read")
        if attempt == 1:
            break
    raise VaultError(
        f"creating {path}: permission denied and no key exists (the policy needs create)"
    )


def fetch_all(
    store: KvStore,
    specs: Sequence[KeySpec],
    layout: str,
    seed: bytes | None,
    on_done: Callable[[FetchedKey], None] = lambda _: None,
    guard: LuksGuard | None = None,
) -> list[FetchedKey]:
    """Get or create every key, concurrently when there are several; the first failure raises.

    A ``guard`` applies to a single volume only (``--verify-luks`` takes one).
    """
    if guard is not None and len(specs) != 1:
        raise ValueError("a LUKS guard checks exactly one volume")
    if len(specs) == 1:
        key = get_or_create(store, specs[0], layout, seed, guard)
        on_done(key)
        return [key]
    pool = ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(specs)), thread_name_prefix="key")
    try:
        futures = [pool.submit(get_or_create, store, spec, layout, seed) for spec in specs]
        results = []
        for future in futures:
            key = future.result()
            on_done(key)
            results.append(key)
        return results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
