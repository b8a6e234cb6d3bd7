"""Each volume's key as ``--check`` reports it: what Vault holds, and what the token may do there.

For every volume the check asks what a run would ask, through the same functions, and writes
nothing: the key is read (`KvStore.read_entry`), judged usable or not (`KvStore.stored_fields`,
`keys.key_content`: deleted, destroyed, wrong length or encoding), and when it is missing the run's
own decision is asked (`keys.creation`: create, migrate the seed, or refuse) together with the KV v1
create-only rule (`KvStore.check_create_only`). The token's capabilities (``sys/capabilities-self``,
asked once for every path by `injector.check.preflight`) say whether the read and the create would
be allowed; a failing check names the policy line that fixes it. Key material is added to the run's
redactor as soon as it is read and is never part of a check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from injector import layouts
from injector.errors import InjectorError, KeyFailure, LuksError
from injector.keys.policy import (
    OVERWRITE_CAPABILITIES,
    KvStore,
    LuksGuard,
    Outcome,
    creation,
    key_content,
)
from injector.layouts import KeySpec
from injector.vault.schemas import Kv1Secret, Kv2Secret
from vsi_common import names
from vsi_common.report import FAIL, OK, WARN, Check

ALL: Final = "root"
"""The capability that grants everything (a root token)."""

Entry = Kv1Secret | Kv2Secret | None
"""A key as `KvStore.read_entry` returns it."""


@dataclass(frozen=True)
class Volumes:
    """What every volume's check shares: the store, the layout and the token's capabilities."""

    store: KvStore
    """The KV mount, opened as a run opens it."""
    layout: str
    """``rook`` or ``volume-keys``."""
    seed: bytes | None = field(repr=False)
    """rook: the key text of Rook's Secret (``--seed-file``)."""
    seed_file: Path | None
    """Where the seed came from, for messages."""
    template: str
    """volume-keys: the key path template (for the policy line of a fix)."""
    guard: LuksGuard | None
    """The LUKS guard of ``--verify-luks`` when the volume has a header."""
    capabilities: Mapping[str, frozenset[str]] | None
    """The token's capabilities by path; None when ``sys/capabilities-self`` was refused."""


@dataclass(frozen=True)
class KeyState:
    """One volume's key: what a run would do with it, and the checks that say so."""

    spec: KeySpec
    """Where the key lives."""
    path: str
    """The logical path a run reads (``<mount>/data/<path>`` on KV v2)."""
    outcome: Outcome | None
    """``read``, ``created`` or ``migrated``; None when a run would fail on this key."""
    content: bytes | None = field(repr=False)
    """The key-file bytes a run would write, when known now (an existing key, a seed). Secret."""
    cas_required: bool
    """KV v2: the key's own metadata asks for check-and-set on every write (False if unknown)."""
    checks: tuple[Check, ...]
    """The checks about this key."""


def grants(capabilities: frozenset[str], wanted: str) -> bool:
    """Whether ``capabilities`` allow ``wanted`` (``root`` allows everything)."""
    return wanted in capabilities or ALL in capabilities


def policy_line(ctx: Volumes, spec: KeySpec, wanted: tuple[str, ...]) -> str:
    """A Vault policy line granting ``wanted`` on the key paths of the layout (or on this one)."""
    if ctx.layout == layouts.ROOK:
        target = ctx.store.api_path(layouts.ROOK_KEY_PREFIX + "*")
    else:
        literal = ctx.template.split("{", 1)[0]
        head = literal[: literal.rfind("/") + 1]
        target = ctx.store.api_path(head + "*" if head else spec.secret_path)
    listed = ", ".join(f'"{c}"' for c in wanted)
    return f'path "{target}" {{ capabilities = [{listed}] }}'


def _may_create(ctx: Volumes) -> bool:
    """Whether the layout may ever create a key (volume-keys; rook only from a seed)."""
    return ctx.layout != layouts.ROOK or ctx.seed is not None


def _shown(capabilities: frozenset[str]) -> str:
    return ", ".join(sorted(capabilities)) or "none"


def volume(ctx: Volumes, spec: KeySpec) -> KeyState:
    """The checks of one volume's key; reads only, whatever a run would do."""
    store = ctx.store
    path = store.api_path(spec.secret_path)
    caps = None if ctx.capabilities is None else ctx.capabilities.get(path, frozenset())
    name = f"key:{spec.volume}"
    if caps is not None and not grants(caps, "read"):
        wanted = ("create", "read") if _may_create(ctx) else ("read",)
        denied = Check(
            f"access:{spec.volume}",
            FAIL,
            f"the token may not read {path} (its capabilities there: {_shown(caps)})",
            f"add to the token's policy: {policy_line(ctx, spec, wanted)}",
        )
        return KeyState(spec, path, None, None, False, (denied,))
    try:
        entry = store.read_entry(spec.secret_path)
    except InjectorError as exc:
        by_policy = "403" in str(exc) or "permission denied" in str(exc)
        fix = (
            f"add to the token's policy: {policy_line(ctx, spec, ('read',))}"
            if by_policy
            else f"check that Vault is healthy and that {names.VAULT_ADDR} reaches it directly"
        )
        return _failed(spec, path, Check(name, FAIL, str(exc), fix))
    try:
        fields = store.stored_fields(spec.secret_path, entry)
    except KeyFailure as exc:
        return _failed(spec, path, Check(name, FAIL, str(exc), _restore_fix(store, spec, entry)))
    cas = _key_cas_required(ctx, spec)
    if fields is not None:
        return _existing(ctx, spec, path, entry, fields, caps, cas)
    return _missing(ctx, spec, path, caps, cas)


def _failed(spec: KeySpec, path: str, *checks: Check) -> KeyState:
    return KeyState(spec, path, None, None, False, checks)


def _restore_fix(store: KvStore, spec: KeySpec, entry: Entry) -> str:
    """How to get a deleted or destroyed KV v2 key back (a new key would not open the volume)."""
    if isinstance(entry, Kv2Secret) and not entry.destroyed:
        return (
            f"undelete it: vault kv undelete -mount={store.mount} -versions={entry.version} "
            f"{spec.secret_path}"
        )
    return (
        "restore the key from a backup; never let a new key be made for a volume that may hold "
        "data (delete the metadata only for a volume that holds none)"
    )


def _key_cas_required(ctx: Volumes, spec: KeySpec) -> bool:
    """KV v2: the key's metadata asks for CAS (read only where the token may read metadata)."""
    store = ctx.store
    if store.version != 2 or ctx.capabilities is None:
        return False
    path = store.metadata_path(spec.secret_path)
    if not grants(ctx.capabilities.get(path, frozenset()), "read"):
        return False
    try:
        metadata = store.read_metadata(spec.secret_path)
    except InjectorError:
        return False
    return metadata is not None and metadata.cas_required


def _version(entry: Entry) -> str:
    if isinstance(entry, Kv2Secret):
        return f"version {entry.version}, created {entry.created_time or 'at an unknown time'}"
    return "KV v1, unversioned"


def _existing(
    ctx: Volumes,
    spec: KeySpec,
    path: str,
    entry: Entry,
    fields: Mapping[str, Any],
    caps: frozenset[str] | None,
    cas: bool,
) -> KeyState:
    """A key Vault holds: usable for the layout? what may the token do? (a run reads it)"""
    stored = fields.get(spec.field)
    ctx.store.session.redactor.add(stored if isinstance(stored, str) else None)
    name = f"key:{spec.volume}"
    try:
        content = key_content(fields, spec, path, ctx.layout, ctx.seed)
    except KeyFailure as exc:
        fix = (
            f"find out what wrote {path}: restore the key this volume was formatted with there; "
            "replace the entry only if no data was ever encrypted with it"
        )
        return _failed(spec, path, Check(name, FAIL, str(exc), fix))
    size = (
        f"{layouts.VOLUME_KEY_BYTES} bytes"
        if ctx.layout == layouts.VOLUME_KEYS
        else "the seed from Rook's Secret"
        if ctx.seed is not None and content == ctx.seed
        else f"Rook's base64 text of {layouts.ROOK_KEY_BYTES} bytes"
    )
    checks = [
        Check(name, OK, f"{path} exists ({_version(entry)}); a run reads it; the key is {size}"),
    ]
    if caps is not None:
        also = ""
        if _may_create(ctx):
            also = (
                ", and create (for new volumes)"
                if grants(caps, "create")
                else "; not create (not needed while the key exists)"
            )
        checks.append(Check(f"access:{spec.volume}", OK, f"the token may read {path}{also}"))
    checks += _kv1_existing(ctx, spec, path, caps)
    checks += _seed_existing(ctx, spec, path, content)
    checks += _luks(ctx, content, "from Vault")
    outcome: Outcome | None = None if any(c.status == FAIL for c in checks) else "read"
    return KeyState(spec, path, outcome, content, cas, tuple(checks))


def _kv1_existing(
    ctx: Volumes, spec: KeySpec, path: str, caps: frozenset[str] | None
) -> list[Check]:
    """KV v1: may the token replace the existing key? (the injector never does; others might)"""
    if ctx.store.version != 1 or caps is None:
        return []
    name = f"create-only:{spec.volume}"
    risky = caps & OVERWRITE_CAPABILITIES
    if not risky:
        return [Check(name, OK, f"no update on {path}: Vault refuses any write to the key")]
    return [
        Check(
            name,
            WARN,
            f"the token has {_shown(risky)} on {path}: on KV v1 a write with it replaces the key "
            "(the injector never writes an existing key; for new keys the create-only guarantee "
            "then rests on read-back)",
            "use the create-only policy (create and read, without update): "
            + policy_line(ctx, spec, ("create", "read")),
        )
    ]


def _seed_existing(ctx: Volumes, spec: KeySpec, path: str, content: bytes) -> list[Check]:
    """rook with a seed and a key in Vault: nothing to migrate; is it the same key?"""
    if ctx.layout != layouts.ROOK or ctx.seed is None:
        return []
    name = f"seed:{spec.volume}"
    if content == ctx.seed:
        return [Check(name, OK, f"Vault already holds the seed of {ctx.seed_file}: no migration")]
    return [
        Check(
            name,
            WARN,
            f"Vault's key at {path} is not the seed of {ctx.seed_file}; a run uses Vault's key "
            "and migrates nothing",
            "make sure the OSD was formatted with Vault's key (--verify-luks with its device)",
        )
    ]


def _luks(ctx: Volumes, content: bytes, source: str) -> list[Check]:
    """With --verify-luks on a formatted volume: does the key a run would use unlock it?"""
    guard = ctx.guard
    if guard is None:
        return []
    try:
        guard.check(content, source)
    except LuksError as exc:
        fix = "find the key this volume was formatted with; nothing is written until one unlocks it"
        return [Check("luks", FAIL, str(exc), fix)]
    return [Check("luks", OK, f"the key {source} unlocks the LUKS volume {guard.device}")]


def _missing(
    ctx: Volumes, spec: KeySpec, path: str, caps: frozenset[str] | None, cas: bool
) -> KeyState:
    """No key in Vault: would a run create one (or migrate the seed), and may the token?"""
    name = f"key:{spec.volume}"
    access = Check(f"access:{spec.volume}", OK, f"the token may read {path}")
    readable = [access] if caps is not None else []
    try:
        outcome = creation(path, ctx.layout, ctx.seed, ctx.guard)
    except KeyFailure as exc:
        fix = (
            f"restore the key the volume was formatted with to {path}"
            if ctx.guard is not None
            else (
                f"in Rook's KMS mode, let Rook's operator store the key at {path} (check its "
                "Vault policy and mount); in the default mode, pass --seed-file with Rook's key "
                "Secret"
            )
        )
        return _failed(spec, path, Check(name, FAIL, str(exc), fix), *readable)
    how = "a create-only write (cas=0)" if ctx.store.version == 2 else "a write, then a read-back"
    refused = "" if caps is None or grants(caps, "create") else f" (refused: access:{spec.volume})"
    checks: list[Check] = []
    content = None
    if outcome == "migrated" and ctx.seed is not None:
        text = ctx.seed.decode("ascii")
        content = key_content({spec.field: text}, spec, path, ctx.layout, ctx.seed)
        detail = f"no key at {path} yet: a run would store the seed, {how}{refused}"
        checks.append(Check(name, OK, detail))
        checks.append(
            Check(f"seed:{spec.volume}", OK, f"a run would migrate the seed of {ctx.seed_file}")
        )
    else:
        detail = f"no key at {path} yet: a run would create one, {how}{refused}"
        checks.append(Check(name, OK, detail))
    if caps is not None:
        checks.append(_create_access(ctx, spec, path, caps))
    checks += _create_only(ctx, spec, path, caps)
    if content is not None:
        checks += _luks(ctx, content, "in the seed file")
    failed = any(c.status == FAIL for c in checks)
    return KeyState(spec, path, None if failed else outcome, content, cas, tuple(checks))


def _create_access(ctx: Volumes, spec: KeySpec, path: str, caps: frozenset[str]) -> Check:
    name = f"access:{spec.volume}"
    if grants(caps, "create"):
        return Check(name, OK, f"the token may read and create {path}")
    return Check(
        name,
        FAIL,
        f"the token may read {path} but not create it (its capabilities there: {_shown(caps)}), "
        "so a run could not store the missing key",
        f"add to the token's policy: {policy_line(ctx, spec, ('create', 'read'))}",
    )


def _create_only(
    ctx: Volumes, spec: KeySpec, path: str, caps: frozenset[str] | None
) -> list[Check]:
    """KV v1, before creating: the run's own create-only rule (`KvStore.check_create_only`)."""
    store = ctx.store
    if store.version != 1:
        return []
    name = f"create-only:{spec.volume}"
    line = policy_line(ctx, spec, ("create", "read"))
    try:
        store.check_create_only(spec.secret_path, caps)
    except KeyFailure as exc:
        fix = (
            f"use the create-only policy (create and read, without update): {line}; or accept "
            f"the risk with {names.VSI_KV1_ALLOW_OVERWRITE_POLICY}=true"
        )
        return [Check(name, FAIL, str(exc), fix)]
    except InjectorError as exc:
        fix = "give the token the default policy: a run asks sys/capabilities-self first"
        return [Check(name, FAIL, str(exc), fix)]
    risky = OVERWRITE_CAPABILITIES & (caps or frozenset())
    if risky:
        return [
            Check(
                name,
                WARN,
                f"the token has {_shown(risky)} on {path} and "
                f"{names.VSI_KV1_ALLOW_OVERWRITE_POLICY}=true: a run creates the key, but racing "
                "injectors could each keep a key Vault no longer holds (read-back is the only "
                "guard)",
                f"use the create-only policy (create and read, without update): {line}",
            )
        ]
    return [Check(name, OK, f"no update on {path}: Vault refuses a second writer")]
