"""Get-or-create of per-volume keys: the Key safety rules of DESIGN.md in code.

A key is only ever created by a create-only write (KV v2 ``cas=0``); a conflict means someone else
won, so the stored key is re-read and used. KV v1 has no CAS: write, read back, and fail closed when
the stored value is not ours (the create-only policy makes Vault refuse the second writer outright).
A soft-deleted or destroyed KV v2 key is an error, never a reason to make a new one: the volume may
still hold data encrypted with it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from injector import layouts
from injector.errors import KeyFailure, VaultError
from injector.layouts import KeySpec
from injector.vault import VaultSession

log = logging.getLogger(__name__)

Outcome = Literal["read", "created", "migrated"]
MAX_WORKERS: Final = 32
"""Most volumes fetched at once (one pooled connection each)."""
CAS_MISMATCH: Final = "check-and-set"
"""Text of Vault's 400 answer when a ``cas=0`` write finds an existing version."""


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
    """A KV mount of known version, reached through a session."""

    session: VaultSession
    """The authenticated session."""
    mount: str
    """Mount path without slashes."""
    version: int
    """1 or 2."""

    def api_path(self, secret_path: str) -> str:
        """The logical path for reads and writes (``<mount>/data/<path>`` on KV v2)."""
        if self.version == 2:
            return f"{self.mount}/data/{secret_path}"
        return f"{self.mount}/{secret_path}"

    def read(self, secret_path: str) -> dict[str, Any] | None:
        """The stored fields, or None when there is no key; deleted/destroyed KV v2 keys raise."""
        path = self.api_path(secret_path)
        reply = self.session.request("GET", path, what=f"reading {path}", expect=(404,))
        if self.version == 1:
            return reply.data if reply.status == 200 else None
        data = reply.data
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        assert isinstance(metadata, dict)
        version = metadata.get("version")
        if metadata.get("destroyed"):
            raise KeyFailure(
                f"the key at {path} (version {version}) is destroyed; refusing to "
                "create a new one for a volume that may hold data (restore the key or delete "
                "the metadata)"
            )
        if metadata.get("deletion_time"):
            raise KeyFailure(
                f"the key at {path} (version {version}) is soft-deleted; refusing to create a "
                f"new one (undelete it: bao kv undelete -versions={version} ...)"
            )
        if reply.status == 404:
            return None
        fields = data.get("data")
        return fields if isinstance(fields, dict) else None

    def create(self, secret_path: str, fields: dict[str, str]) -> bool:
        """Create-only write; False when a key exists (CAS conflict or create-only refusal).

        A 403 is also returned as False: under a create-only policy Vault refuses a write to an
        existing key with 403, so the caller re-reads and only then decides it was a real denial.
        """
        path = self.api_path(secret_path)
        body: dict[str, Any] = (
            {"options": {"cas": 0}, "data": fields} if self.version == 2 else dict(fields)
        )
        reply = self.session.request(
            "POST", path, what=f"creating {path}", json=body, expect=(400, 403)
        )
        if reply.status == 400 and CAS_MISMATCH not in reply.errors:
            raise VaultError(f"creating {path}: Vault answered 400: {reply.errors}")
        return reply.status < 400


def _field_value(fields: dict[str, Any], spec: KeySpec, path: str, layout: str) -> bytes:
    value = fields.get(spec.field)
    if not isinstance(value, str):
        raise KeyFailure(f"the secret at {path} has no text field {spec.field!r}")
    try:
        return layouts.file_bytes(layout, value)
    except ValueError as exc:
        raise KeyFailure(f"the key at {path} field {spec.field!r} is unusable: {exc}") from None


def get_or_create(store: KvStore, spec: KeySpec, layout: str, seed: bytes | None) -> FetchedKey:
    """Read the volume's key, or create it safely (rook: only from the seed); never overwrite."""
    started = time.monotonic()
    path = store.api_path(spec.secret_path)

    def done(content: bytes, outcome: Outcome) -> FetchedKey:
        latency = (time.monotonic() - started) * 1000
        return FetchedKey(spec, content, outcome, path, store.version, round(latency, 1))

    existing = store.read(spec.secret_path)
    if existing is not None:
        return done(_field_value(existing, spec, path, layout), "read")

    outcome: Outcome
    if layout == layouts.ROOK:
        if seed is None:
            raise KeyFailure(
                f"no key at {path} and no seed file: the rook layout never invents a key for an "
                "existing OSD (store Rook's key there, or pass --seed-file with Rook's key Secret)"
            )
        text, outcome = seed.decode("ascii"), "migrated"
    else:
        text, outcome = (
            layouts.stored_text(secrets.token_bytes(layouts.key_size(layout))),
            "created",
        )
    mine = {spec.field: text}

    for attempt in range(2):
        if store.create(spec.secret_path, mine):
            if store.version == 1:
                back = store.read(spec.secret_path)
                if back is None or back.get(spec.field) != text:
                    raise KeyFailure(
                        f"the key at {path} changed right after it was written (another writer?); "
                        "refusing to use either (grant create+read without update on KV v1)"
                    )
            return done(_field_value(mine, spec, path, layout), outcome)
        existing = store.read(spec.secret_path)
        if existing is not None:
            log.info(
                "key created concurrently, using the stored one", extra={"volume": spec.volume}
            )
            return done(_field_value(existing, spec, path, layout), "read")
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
) -> list[FetchedKey]:
    """Get or create every key, concurrently when there are several; the first failure raises."""
    if len(specs) == 1:
        key = get_or_create(store, specs[0], layout, seed)
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
