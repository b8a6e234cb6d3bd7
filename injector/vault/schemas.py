"""What each Vault endpoint promises in a successful answer, and the values taken out of it.

A 2xx answer is believed only when it carries every field its endpoint promises (`PROMISES`): the
token of a login, ``data.data`` and ``data.metadata.version`` of a KV v2 read, the new
``data.version`` of a KV v2 create, and so on. Each `Promise` takes those fields out into a frozen
value (`Login`, `Kv2Secret`, ...) or raises `BrokenPromise` naming what is missing; the answer table
(`injector.vault.replies`) turns a broken promise into a fatal answer. Pure: standard library only.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final


class Endpoint(enum.Enum):
    """The kinds of request the injector makes; each has its own promise (`PROMISES`)."""

    LOGIN = "login"
    """``POST auth/<mount>/login`` (kubernetes, approle)."""
    TOKEN_LOOKUP = "token lookup"  # noqa: S105 - an endpoint name, not a credential
    """``GET auth/token/lookup-self``."""
    CAPABILITIES = "capabilities"
    """``POST sys/capabilities-self``."""
    MOUNT = "mount lookup"
    """``GET sys/internal/ui/mounts/<path>``: which mount serves a path (for a token using it)."""
    MOUNTS = "mount list"
    """``GET sys/mounts``."""
    KV1_READ = "KV v1 read"
    """``GET <mount>/<path>``."""
    KV1_WRITE = "KV v1 write"
    """``POST <mount>/<path>``."""
    KV2_READ = "KV v2 read"
    """``GET <mount>/data/<path>``."""
    KV2_CREATE = "KV v2 create"
    """``POST <mount>/data/<path>`` with ``options.cas = 0``."""
    KV2_METADATA = "KV v2 metadata"
    """``GET <mount>/metadata/<path>``."""
    KV2_CONFIG = "KV v2 config"
    """``GET <mount>/config``: the mount's settings (``cas_required``), for a preflight check."""


@dataclass(frozen=True)
class Login:
    """A login answer: the token to use from now on."""

    client_token: str = field(repr=False)
    """``auth.client_token`` (secret)."""
    policies: tuple[str, ...]
    """``auth.policies``, when listed."""
    lease_duration: int | None
    """``auth.lease_duration`` in seconds, when given."""


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
    """Path -> capabilities (``capabilities`` too: Vault's answer for a single path)."""


@dataclass(frozen=True)
class Mount:
    """One secrets engine mount."""

    type: str
    """Engine type: ``kv`` (``generic`` on old servers), ``transit``, ..."""
    kv_version: int
    """``options.version`` as 1 or 2 (1 when absent)."""
    path: str
    """The mount path with its trailing slash, when Vault names it."""


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
class Kv2Version:
    """One version in a KV v2 secret's metadata."""

    created_time: str
    deletion_time: str
    destroyed: bool


@dataclass(frozen=True)
class Kv2Metadata:
    """``<mount>/metadata/<path>``: a KV v2 secret's versions, without any value."""

    current_version: int
    """``data.current_version``."""
    oldest_version: int
    """``data.oldest_version``."""
    cas_required: bool
    """``data.cas_required``."""
    max_versions: int
    """``data.max_versions`` (0: the mount's default)."""
    versions: Mapping[int, Kv2Version]
    """``data.versions`` by version number."""


@dataclass(frozen=True)
class Kv2Config:
    """``<mount>/config``: the settings of a KV v2 mount."""

    cas_required: bool
    """``data.cas_required``: every write to the mount must carry ``cas``."""
    max_versions: int
    """``data.max_versions`` (0: the default, 10)."""


Value = (
    Login
    | TokenInfo
    | Capabilities
    | Mount
    | Mounts
    | Kv1Secret
    | Kv1Written
    | Kv2Secret
    | Kv2Created
    | Kv2Metadata
    | Kv2Config
)


class BrokenPromise(Exception):
    """An answer that breaks its endpoint's promise; the message names the missing field."""


@dataclass(frozen=True)
class Promise:
    """What a 2xx answer of one endpoint must carry, and how to take it out."""

    fields: str
    """The promised fields, as docs/injector.md lists them."""
    extract: Callable[[dict[str, Any]], Value]
    """Body -> value; raises `BrokenPromise` naming what is missing."""
    allows_empty: bool = False
    """True when a 204 (or any empty 2xx) is a success (a KV v1 write)."""


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


def _login(body: dict[str, Any]) -> Login:
    auth = _obj(body, "auth", "")
    token = auth.get("client_token")
    if not isinstance(token, str) or not _HEADER_SAFE.match(token):
        raise BrokenPromise("auth.client_token (a non-empty token)")
    return Login(token, _strings(auth.get("policies")), _opt_int(auth, "lease_duration"))


def _token_info(body: dict[str, Any]) -> TokenInfo:
    data = _obj(body, "data", "")
    return TokenInfo(_strings(data.get("policies")), _opt_int(data, "ttl"))


def _capabilities(body: dict[str, Any]) -> Capabilities:
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
    return Mount(kind, 2 if version == "2" else 1, _str(entry, "path"))


def _mount(body: dict[str, Any]) -> Mount:
    return _mount_of(_obj(body, "data", ""), "data.")


def _mounts(body: dict[str, Any]) -> Mounts:
    data = body.get("data")
    listing = data if isinstance(data, dict) else body  # very old servers answer without data
    found = {k: _mount_of(v, f"{k}.") for k, v in listing.items() if k.endswith("/") and v}
    if not found and not isinstance(data, dict):
        raise BrokenPromise("data (the mounts)")
    return Mounts(found)


def _kv1_read(body: dict[str, Any]) -> Kv1Secret:
    return Kv1Secret(_obj(body, "data", ""))


def _kv1_write(body: dict[str, Any]) -> Kv1Written:
    return Kv1Written()


def kv2_secret(body: dict[str, Any]) -> Kv2Secret:
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


def _kv2_created(body: dict[str, Any]) -> Kv2Created:
    return Kv2Created(_int(_obj(body, "data", ""), "version", "data.", minimum=1))


def _kv2_metadata(body: dict[str, Any]) -> Kv2Metadata:
    data = _obj(body, "data", "")
    versions: dict[int, Kv2Version] = {}
    raw_versions = data.get("versions")
    if not isinstance(raw_versions, dict):
        raise BrokenPromise("data.versions (an object)")
    for number, info in raw_versions.items():
        if isinstance(info, dict) and str(number).isdigit():
            versions[int(number)] = Kv2Version(
                _str(info, "created_time"),
                _str(info, "deletion_time"),
                info.get("destroyed") is True,
            )
    return Kv2Metadata(
        current_version=_int(data, "current_version", "data."),
        oldest_version=_opt_int(data, "oldest_version") or 0,
        cas_required=data.get("cas_required") is True,
        max_versions=_opt_int(data, "max_versions") or 0,
        versions=versions,
    )


def _kv2_config(body: dict[str, Any]) -> Kv2Config:
    data = _obj(body, "data", "")
    cas_required = data.get("cas_required")
    if not isinstance(cas_required, bool):
        raise BrokenPromise("data.cas_required (true or false)")
    return Kv2Config(cas_required, _opt_int(data, "max_versions") or 0)


PROMISES: Final[Mapping[Endpoint, Promise]] = {
    Endpoint.LOGIN: Promise("`auth.client_token`", _login),
    Endpoint.TOKEN_LOOKUP: Promise("`data`", _token_info),
    Endpoint.CAPABILITIES: Promise("`data.<path>` (a list)", _capabilities),
    Endpoint.MOUNT: Promise("`data.type`", _mount),
    Endpoint.MOUNTS: Promise("`data` (mounts by path)", _mounts),
    Endpoint.KV1_READ: Promise("`data`", _kv1_read),
    Endpoint.KV1_WRITE: Promise("nothing (204); a read-back proves the write", _kv1_write, True),
    Endpoint.KV2_READ: Promise("`data.data`, `data.metadata.version`", kv2_secret),
    Endpoint.KV2_CREATE: Promise("`data.version`", _kv2_created),
    Endpoint.KV2_METADATA: Promise("`data.current_version`, `data.versions`", _kv2_metadata),
    Endpoint.KV2_CONFIG: Promise("`data.cas_required`", _kv2_config),
}
"""What a 2xx answer of each endpoint must carry to be a success."""
