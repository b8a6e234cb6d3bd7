"""Get-or-create of per-volume keys: the key safety rules (docs/injector.md, "Key safety") in code.

A lost or replaced key is a lost volume, so a key is never overwritten. It is only ever created by
a create-only write (KV v2 ``cas=0``); a conflict, or the denial a create-only policy answers a
second writer with, means someone else won, so the stored key is re-read and used. A create
counts only when Vault proves it: the KV v2 reply names the new version and a read-back finds that
version holding our value. KV v1 has no CAS: write, read back, and fail closed when the stored
value is not ours (the create-only policy makes Vault refuse the second writer outright). Every
key, read or made, is checked against its layout (`injector.layouts.file_bytes`: 32 bytes, or
Rook's text) before anything uses it. A soft-deleted or destroyed KV v2 key is an error, never a
reason to make a new one: the volume may still hold data encrypted with it. Read-back cannot see a
writer that comes after our read, so on KV v1 a key is only created when the token may not
``update`` the path (or the operator opted in). With a `LuksGuard` (the volume already has a LUKS
header) no key is ever invented, and a seed must unlock the volume before it is stored.
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
from injector.vault.endpoints import Conflict, Denied, NotFound
from injector.vault.kv import KvStore
from injector.vault.schemas import Kv1Secret, Kv2Created, Kv2Secret
from vsi_common import names
from vsi_common.logs import fields

# The logger keeps the name it had before the package split: it is a field of every JSON line.
log = logging.getLogger("injector.keys")

KeyOutcome = Literal["read", "created", "migrated"]
"""How a run got a key: ``read`` (it existed), ``created`` (made now), ``migrated`` (the seed)."""
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
    outcome: KeyOutcome
    """``read`` (existed), ``created`` (made now) or ``migrated`` (seed stored now)."""
    vault_path: str
    """Full logical path, e.g. ``secret/data/vault-storage-injector/ns/pvc``."""
    kv_version: int
    """1 or 2."""
    latency_ms: float
    """Time spent on this key, in milliseconds."""


def stored_fields(
    store: KvStore, secret_path: str, entry: Kv1Secret | Kv2Secret | NotFound
) -> Mapping[str, Any] | None:
    """The fields of a read entry, None for no key; `KeyFailure` for a deleted or destroyed one.

    A run and a preflight check both decide here whether a KV v2 key can be used.
    """
    if isinstance(entry, NotFound):
        return None
    if isinstance(entry, Kv1Secret):
        return entry.data
    path = store.api_path(secret_path)
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


def read(store: KvStore, secret_path: str) -> Mapping[str, Any] | None:
    """The stored fields, or None when there is no key; deleted/destroyed KV v2 keys raise."""
    return stored_fields(store, secret_path, store.read(secret_path))


def check_create_only(
    store: KvStore,
    secret_path: str,
    allow_overwrite: bool = False,
    capabilities: frozenset[str] | None = None,
) -> None:
    """KV v1: raise unless the token cannot overwrite the key path (or the operator opted in).

    Without ``update`` Vault itself refuses a second write to an existing key; with it, racing
    creators each read back their own write and one of them holds a key Vault no longer has.
    ``allow_overwrite`` is the operator's opt-in (VSI_KV1_ALLOW_OVERWRITE_POLICY).
    ``capabilities`` are the token's on the key path when the caller has asked already (a
    preflight check); otherwise ``sys/capabilities-self`` is asked here.
    """
    if store.version != 1 or allow_overwrite:
        return
    path = store.api_path(secret_path)
    if capabilities is None:
        capabilities = store.session.capabilities([path])[path]
    risky = capabilities & OVERWRITE_CAPABILITIES
    if risky:
        raise KeyFailure(
            f"refusing to create the key at {path} on KV v1: the token has "
            f"{', '.join(sorted(risky))} there, so racing injectors could overwrite each "
            "other's key; use the create-only policy (create and read, without update) from "
            f"docs/injector.md, or set {names.VSI_KV1_ALLOW_OVERWRITE_POLICY}=true to accept "
            "the risk"
        )


def create(store: KvStore, secret_path: str, field_name: str, text: str) -> bool:
    """Create-only write, then proof; False when a key exists (CAS conflict or refusal).

    True only once Vault has proven it holds exactly ``text``: on KV v2 the create reply names
    the new version and a read-back finds that version with that value; on KV v1 a read-back
    finds the value. Anything else raises `KeyFailure` before the key is used. A denial is also
    returned as False: under a create-only policy Vault refuses a write to an existing key with
    403, so the caller re-reads and only then decides it was a real denial.
    """
    path = store.api_path(secret_path)
    store.session.redactor.add(text)
    written = store.create(secret_path, {field_name: text})
    if isinstance(written, Conflict | Denied):
        return False
    back = store.read(secret_path)
    if isinstance(written, Kv2Created):
        _prove_v2(path, back, field_name, text, written.version)
    elif not isinstance(back, Kv1Secret) or back.data.get(field_name) != text:
        raise KeyFailure(
            f"the key at {path} changed right after it was written (another writer?); "
            "refusing to use either (grant create+read without update on KV v1)"
        )
    return True


def _prove_v2(
    path: str, back: Kv1Secret | Kv2Secret | NotFound, field_name: str, text: str, version: int
) -> None:
    """`KeyFailure` unless the read-back is the live ``version`` holding exactly ``text``."""
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


def creation(path: str, layout: str, seed: bytes | None, guard: LuksGuard | None) -> KeyOutcome:
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
) -> tuple[str, KeyOutcome]:
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
    *,
    kv1_allow_overwrite: bool = False,
) -> FetchedKey:
    """Read the volume's key, or create it safely (rook: only from the seed); never overwrite.

    With a ``guard`` every key returned unlocks the volume, and nothing is written to Vault
    unless it does. ``kv1_allow_overwrite``: see `check_create_only`.
    """
    started = time.monotonic()
    path = store.api_path(spec.secret_path)
    redactor = store.session.redactor

    def done(content: bytes, outcome: KeyOutcome) -> FetchedKey:
        latency = (time.monotonic() - started) * 1000
        return FetchedKey(spec, content, outcome, path, store.version, round(latency, 1))

    def checked(content: bytes, source: str) -> bytes:
        if guard is not None:
            guard.check(content, source)
        return content

    def stored_key(existing: Mapping[str, Any]) -> bytes:
        """The key of an entry read from Vault, its text given to the redactor first."""
        value = existing.get(spec.field)
        redactor.add(value if isinstance(value, str) else None)
        return key_content(existing, spec, path, layout, seed)

    existing = read(store, spec.secret_path)
    if existing is not None:
        return done(checked(stored_key(existing), "from Vault"), "read")

    text, outcome = _new_text(path, layout, seed, guard)
    redactor.add(text)
    content = checked(key_content({spec.field: text}, spec, path, layout, seed), "in the seed file")
    check_create_only(store, spec.secret_path, kv1_allow_overwrite)
    for _attempt in range(2):
        if create(store, spec.secret_path, spec.field, text):
            return done(content, outcome)
        existing = read(store, spec.secret_path)
        if existing is not None:
            log.info(
                "key created concurrently, using the stored one", extra=fields(volume=spec.volume)
            )
            stored = stored_key(existing)
            return done(stored if stored == content else checked(stored, "from Vault"), "read")
    raise VaultError(
        f"creating {path}: permission denied and no key exists (the policy needs create)"
    )


def fetch_all(
    store: KvStore,
    specs: Sequence[KeySpec],
    layout: str,
    seed: bytes | None,
    guard: LuksGuard | None = None,
    *,
    kv1_allow_overwrite: bool = False,
) -> list[FetchedKey]:
    """Get or create every key, concurrently when there are several; the first failure raises.

    A ``guard`` applies to a single volume only (``--verify-luks`` takes one).
    """
    if guard is not None and len(specs) != 1:
        raise ValueError("a LUKS guard checks exactly one volume")
    if len(specs) == 1:
        return [
            get_or_create(
                store, specs[0], layout, seed, guard, kv1_allow_overwrite=kv1_allow_overwrite
            )
        ]
    pool = ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(specs)), thread_name_prefix="key")
    try:
        futures = [
            pool.submit(
                get_or_create, store, spec, layout, seed, kv1_allow_overwrite=kv1_allow_overwrite
            )
            for spec in specs
        ]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
