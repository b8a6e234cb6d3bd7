"""What each Vault endpoint's success carries, and the values taken out of it.

A 2xx reply is believed only when it carries every field its endpoint promises: the token of a
login, ``data.data`` and ``data.metadata.version`` of a KV v2 read, the new ``data.version`` of a
KV v2 create, and so on. Each `Schema` names those fields (docs/injector.md lists them) and takes
them out into a frozen value (`Login`, `Kv2Secret`, ...), or raises `BrokenPromise` naming what
is missing; the reply table (`injector.vault.replies`) turns a broken promise into a fatal reply.
A value keeps only the fields the injector reads; the others are checked, not kept. Pure:
standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

T = TypeVar("T")

JsonObject = dict[str, Any]
"""A reply's body: a parsed JSON object."""


@dataclass(frozen=True)
class Login:
    """A login reply: the token to use from now on."""

    client_token: str = field(repr=False)
    """``auth.client_token`` (secret)."""


@dataclass(frozen=True)
class TokenInfo:
    """``auth/token/lookup-self``: what the token is."""

    policies: tuple[str, ...]
    """``data.policies``."""
    ttl: int | None
    """``data.ttl`` in seconds (0: no expiry), when given."""


@dataclass(frozen=True)
class Capabilities:
    """``sys/capabilities-self``: the token's capabilities per path asked."""

    by_path: Mapping[str, frozenset[str]]
    """Path -> capabilities (``capabilities`` too: Vault's reply for a single path)."""


@dataclass(frozen=True)
class Mount:
    """One secrets engine mount."""

    type: str
    """Engine type: ``kv`` (``generic`` on old servers), ``transit``, ..."""
    kv_version: int
    """``options.version`` as 1 or 2 (1 when absent)."""


@dataclass(frozen=True)
class Mounts:
    """``sys/mounts``: every mount by path (with the trailing slash)."""

    by_path: Mapping[str, Mount]
    """Mount path -> mount."""


@dataclass(frozen=True)
class Kv1Secret:
    """A KV v1 secret's fields."""

    data: Mapping[str, Any] = field(repr=False)
    """``data`` (secret values)."""


@dataclass(frozen=True)
class Kv1Written:
    """A KV v1 write Vault accepted (204, or 200 with a JSON body); only a read-back proves it."""


@dataclass(frozen=True)
class Kv2Secret:
    """A KV v2 secret version: its fields, or why it has none (soft-deleted or destroyed)."""

    data: Mapping[str, Any] | None = field(repr=False)
    """``data.data`` (secret values); None when the version is deleted or destroyed."""
    version: int
    """``data.metadata.version``."""
    deletion_time: str
    """``data.metadata.deletion_time``; empty when the version is live."""
    destroyed: bool
    """``data.metadata.destroyed``."""
    created_time: str
    """``data.metadata.created_time``."""

    @property
    def live(self) -> bool:
        """True when the version holds data (neither soft-deleted nor destroyed)."""
        return self.data is not None and not self.deletion_time and not self.destroyed


@dataclass(frozen=True)
class Kv2Created:
    """A ``cas=0`` create Vault accepted: the version it says it stored."""

    version: int
    """``data.version``."""


@dataclass(frozen=True)
class Kv2Metadata:
    """``<mount>/metadata/<path>``: a KV v2 secret's settings, without any value."""

    cas_required: bool
    """``data.cas_required``: every write to the key must carry ``cas``."""


@dataclass(frozen=True)
class Kv2Config:
    """``<mount>/config``: the settings of a KV v2 mount."""

    cas_required: bool
    """``data.cas_required``: every write to the mount must carry ``cas``."""


class BrokenPromise(Exception):
    """A reply that breaks its endpoint's promise; the message names the missing field."""


@dataclass(frozen=True)
class Schema(Generic[T]):
    """What a success of one endpoint must carry, and how to take it out."""

    fields: str
    """The promised fields, as docs/injector.md lists them."""
    extract: Callable[[JsonObject], T]
    """Body -> value; raises `BrokenPromise` naming what is missing."""


def _obj(parent: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise BrokenPromise(f"{where}{key} (an object)")
    return value


def _int(parent: Mapping[str, Any], key: str, where: str, minimum: int = 0) -> int:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BrokenPromise(f"{where}{key} (an integer >= {minimum})")
    return value


def _opt_int(parent: Mapping[str, Any], key: str) -> int | None:
    value = parent.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(parent: Mapping[str, Any], key: str) -> str:
    value = parent.get(key)
    return value if isinstance(value, str) else ""


def _strings(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


_HEADER_SAFE: Final = re.compile(r"^[\x21-\x7e]{1,4096}$")


def _login(body: JsonObject) -> Login:
    token = _obj(body, "auth", "").get("client_token")
    if not isinstance(token, str) or not _HEADER_SAFE.match(token):
        raise BrokenPromise("auth.client_token (a non-empty token)")
    return Login(token)


def _token_info(body: JsonObject) -> TokenInfo:
    data = _obj(body, "data", "")
    return TokenInfo(_strings(data.get("policies")), _opt_int(data, "ttl"))


def _capabilities(body: JsonObject) -> Capabilities:
    data = _obj(body, "data", "")
    found = {k: frozenset(_strings(v)) for k, v in data.items() if isinstance(v, list)}
    if not found:
        raise BrokenPromise("data.<path> (a list of capabilities)")
    return Capabilities(found)


def _mount_of(entry: dict[str, Any], where: str) -> Mount:
    kind = entry.get("type")
    if not isinstance(kind, str) or not kind:
        raise BrokenPromise(f"{where}type (the engine type)")
    options = entry.get("options")
    version = str(options.get("version", "1")) if isinstance(options, dict) else "1"
    return Mount(kind, 2 if version == "2" else 1)


def _mount(body: JsonObject) -> Mount:
    return _mount_of(_obj(body, "data", ""), "data.")


def _mounts(body: JsonObject) -> Mounts:
    data = body.get("data")
    listing = data if isinstance(data, dict) else body  # very old servers answer without data
    found = {k: _mount_of(v, f"{k}.") for k, v in listing.items() if k.endswith("/") and v}
    if not found and not isinstance(data, dict):
        raise BrokenPromise("data (the mounts)")
    return Mounts(found)


def _kv1_read(body: JsonObject) -> Kv1Secret:
    return Kv1Secret(_obj(body, "data", ""))


def _kv1_write(body: JsonObject) -> Kv1Written:
    return Kv1Written()


def _kv2_secret(body: JsonObject) -> Kv2Secret:
    data = _obj(body, "data", "")
    metadata = _obj(data, "metadata", "data.")
    version = _int(metadata, "version", "data.metadata.", minimum=1)
    deletion_time = _str(metadata, "deletion_time")
    destroyed = metadata.get("destroyed") is True
    fields = data.get("data")
    if not isinstance(fields, dict):
        if not (deletion_time or destroyed):
            raise BrokenPromise("data.data (an object)")
        fields = None
    return Kv2Secret(fields, version, deletion_time, destroyed, _str(metadata, "created_time"))


def _kv2_gone(body: JsonObject) -> Kv2Secret:
    secret = _kv2_secret(body)
    if secret.live:
        raise BrokenPromise("data.metadata of a deleted or destroyed version")
    return secret


def _kv2_created(body: JsonObject) -> Kv2Created:
    return Kv2Created(_int(_obj(body, "data", ""), "version", "data.", minimum=1))


def _kv2_metadata(body: JsonObject) -> Kv2Metadata:
    data = _obj(body, "data", "")
    if not isinstance(data.get("versions"), dict):
        raise BrokenPromise("data.versions (an object)")
    _int(data, "current_version", "data.")
    return Kv2Metadata(cas_required=data.get("cas_required") is True)


def _kv2_config(body: JsonObject) -> Kv2Config:
    cas_required = _obj(body, "data", "").get("cas_required")
    if not isinstance(cas_required, bool):
        raise BrokenPromise("data.cas_required (true or false)")
    return Kv2Config(cas_required)


LOGIN: Final = Schema("`auth.client_token`", _login)
TOKEN_INFO: Final = Schema("`data`", _token_info)
CAPABILITIES: Final = Schema("`data.<path>` (a list)", _capabilities)
MOUNT: Final = Schema("`data.type`", _mount)
MOUNTS: Final = Schema("`data` (mounts by path)", _mounts)
KV1_SECRET: Final = Schema("`data`", _kv1_read)
KV1_WRITTEN: Final = Schema("nothing (204); a read-back proves the write", _kv1_write)
KV2_SECRET: Final = Schema("`data.data`, `data.metadata.version`", _kv2_secret)
KV2_GONE: Final = Schema("`data.metadata` of a deleted or destroyed version", _kv2_gone)
"""What Vault's 404 to a KV v2 read carries when the version exists but is deleted or destroyed."""
KV2_CREATED: Final = Schema("`data.version`", _kv2_created)
KV2_METADATA: Final = Schema("`data.current_version`, `data.versions`", _kv2_metadata)
KV2_CONFIG: Final = Schema("`data.cas_required`", _kv2_config)
