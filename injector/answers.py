"""The answer contract: what every Vault answer means, decided in one place and nowhere else.

Between the injector and Vault there may be a proxy, a load balancer, an ingress or a captive
portal, and each can answer in Vault's place: 200 with an HTML page, a JSON body cut short, a 404
page, a redirect to somewhere else. A key counts only when Vault provably holds it, so an answer is
a success only when it has a 2xx status, a JSON Content-Type, a body that parses and every field the
endpoint promises (`PROMISES`); a 404 means "no key" only when it is Vault's own JSON
(``{"errors": []}``). `classify` turns what came off the wire (`Wire`) into one `Answer` whose
`Outcome` the callers act on; endpoint code never re-decides what a status means. The transport
(`injector.transport`) reads the wire, the session (`injector.vault`) retries what is `TRANSIENT`.

Every text taken from an answer (Vault's ``errors``) is quoted through the run's `Redactor`. Pure:
standard library only, so the table is unit-tested case by case (tests/unit/injector/
test_answers.py) and docs/injector.md lists it (tested against `RULES`, `PROMISES`, `Outcome`).
"""

from __future__ import annotations

import email.utils
import enum
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from injector.redact import Redactor, one_line


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


class Outcome(enum.Enum):
    """What an answer means for the caller."""

    OK = "ok"
    """A 2xx JSON answer with every promised field (or Vault's answer for a deleted KV v2 key)."""
    NOT_FOUND = "not found"
    """Vault's own 404 (``{"errors": []}``) to a read: there is no such secret."""
    CONFLICT = "conflict"
    """Vault refused a ``cas=0`` create because the secret exists (400 check-and-set)."""
    DENIED = "denied"
    """Vault's own 401/403 (the token or the policy); the caller decides (re-read, re-login)."""
    TRANSIENT = "transient"
    """Worth retrying within the deadline (rate limit, server error, sealed, standby)."""
    FATAL = "fatal"
    """Anything else: a redirect, a page that is not Vault's, a broken promise, a refusal."""


READS: Final = frozenset(
    {Endpoint.KV1_READ, Endpoint.KV2_READ, Endpoint.KV2_METADATA, Endpoint.MOUNT}
)
"""Endpoints whose Vault 404 means "no such secret" (or, for the mount lookup, no such mount)."""
TRANSIENT_STATUSES: Final = frozenset({412, 429, 500, 502, 503, 504})
"""Retried whatever the body: consistency (412), rate limit, server and gateway errors, sealed."""
TRANSIENT_ERRORS: Final = re.compile(r"sealed|standby|not active|leader|(?i:timeout)")
"""Vault error texts that make an answer of another status transient."""
ALWAYS_TRANSIENT_ERRORS: Final = re.compile(r"sealed|standby")
"""Vault error texts that make even a 400, 403 or 404 transient (a sealed or standby node)."""
CAS_MISMATCH: Final = "check-and-set"
"""Text of Vault's 400 answer when a ``cas=0`` write finds an existing version."""
MAX_RETRY_AFTER: Final = 3600.0
"""Longest Retry-After taken as given, in seconds; a longer one is capped (the deadline decides)."""
MAX_ERRORS: Final = 3
"""Most Vault error strings quoted in one line."""


@dataclass(frozen=True)
class Wire:
    """What came off the wire for one request, already bounded by the transport."""

    status: int
    """HTTP status."""
    content_type: str = ""
    """The Content-Type header, as sent."""
    body: bytes = field(default=b"", repr=False)
    """The body (complete, or the part read before the size limit); may hold secrets."""
    complete: bool = True
    """False when the answer was larger than `limit` and was not read whole."""
    limit: int = 0
    """The size limit the transport applied, in bytes (for the message)."""
    location: str = ""
    """The Location header, for redirects."""
    retry_after: str = ""
    """The Retry-After header."""
    content_encoding: str = ""
    """The Content-Encoding header (the transport asks for none)."""


# -- what the success of each endpoint promises ----------------------------------------------


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
)


@dataclass(frozen=True)
class Answer:
    """One classified answer: its outcome, the promised value, or the one line that explains it."""

    endpoint: Endpoint
    """What was asked."""
    outcome: Outcome
    """What it means."""
    status: int
    """HTTP status (0: none, e.g. a transport failure)."""
    value: Value | None = field(default=None, repr=False)
    """The promised fields, for `Outcome.OK`."""
    reason: str = ""
    """Why it is not OK: one line, redacted, bounded."""
    errors: tuple[str, ...] = ()
    """Vault's ``errors`` strings (redacted, bounded) when the body was Vault's JSON."""
    from_vault: bool = False
    """True when the body was Vault-shaped JSON (a 2xx object, or an object with ``errors``)."""
    retry_after: float | None = None
    """Seconds the server asked to wait (Retry-After), for `Outcome.TRANSIENT`."""


class _Broken(Exception):
    """An answer that breaks its endpoint's promise; the message names the missing field."""


@dataclass(frozen=True)
class Promise:
    """What a 2xx answer of one endpoint must carry, and how to take it out."""

    fields: str
    """The promised fields, as docs/injector.md lists them."""
    extract: Callable[[dict[str, Any]], Value]
    """Body -> value; raises `_Broken` naming what is missing."""
    allows_empty: bool = False
    """True when a 204 (or any empty 2xx) is a success (a KV v1 write)."""


def _obj(parent: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise _Broken(f"{where}{key} (an object)")
    return value


def _int(parent: Mapping[str, Any], key: str, where: str, minimum: int = 0) -> int:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _Broken(f"{where}{key} (an integer >= {minimum})")
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
        raise _Broken("auth.client_token (a non-empty token)")
    return Login(token, _strings(auth.get("policies")), _opt_int(auth, "lease_duration"))


def _token_info(body: dict[str, Any]) -> TokenInfo:
    data = _obj(body, "data", "")
    return TokenInfo(_strings(data.get("policies")), _opt_int(data, "ttl"))


def _capabilities(body: dict[str, Any]) -> Capabilities:
    data = _obj(body, "data", "")
    found = {k: frozenset(_strings(v)) for k, v in data.items() if isinstance(v, list)}
    if not found:
        raise _Broken("data.<path> (a list of capabilities)")
    return Capabilities(found)


def _mount_of(entry: dict[str, Any], where: str) -> Mount:
    kind = entry.get("type")
    if not isinstance(kind, str) or not kind:
        raise _Broken(f"{where}type (the engine type)")
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
        raise _Broken("data (the mounts)")
    return Mounts(found)


def _kv1_read(body: dict[str, Any]) -> Kv1Secret:
    return Kv1Secret(_obj(body, "data", ""))


def _kv1_write(body: dict[str, Any]) -> Kv1Written:
    return Kv1Written()


def _kv2_secret(body: dict[str, Any]) -> Kv2Secret:
    data = _obj(body, "data", "")
    metadata = _obj(data, "metadata", "data.")
    version = _int(metadata, "version", "data.metadata.", minimum=1)
    deletion_time = _str(metadata, "deletion_time")
    destroyed = metadata.get("destroyed") is True
    fields = data.get("data")
    if not isinstance(fields, dict):
        if not (deletion_time or destroyed):
            raise _Broken("data.data (an object)")
        fields = None
    return Kv2Secret(fields, version, deletion_time, destroyed, _str(metadata, "created_time"))


def _kv2_created(body: dict[str, Any]) -> Kv2Created:
    return Kv2Created(_int(_obj(body, "data", ""), "version", "data.", minimum=1))


def _kv2_metadata(body: dict[str, Any]) -> Kv2Metadata:
    data = _obj(body, "data", "")
    versions: dict[int, Kv2Version] = {}
    raw_versions = data.get("versions")
    if not isinstance(raw_versions, dict):
        raise _Broken("data.versions (an object)")
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


PROMISES: Final[Mapping[Endpoint, Promise]] = {
    Endpoint.LOGIN: Promise("`auth.client_token`", _login),
    Endpoint.TOKEN_LOOKUP: Promise("`data`", _token_info),
    Endpoint.CAPABILITIES: Promise("`data.<path>` (a list)", _capabilities),
    Endpoint.MOUNT: Promise("`data.type`", _mount),
    Endpoint.MOUNTS: Promise("`data` (mounts by path)", _mounts),
    Endpoint.KV1_READ: Promise("`data`", _kv1_read),
    Endpoint.KV1_WRITE: Promise("nothing (204); a read-back proves the write", _kv1_write, True),
    Endpoint.KV2_READ: Promise("`data.data`, `data.metadata.version`", _kv2_secret),
    Endpoint.KV2_CREATE: Promise("`data.version`", _kv2_created),
    Endpoint.KV2_METADATA: Promise("`data.current_version`, `data.versions`", _kv2_metadata),
}
"""What a 2xx answer of each endpoint must carry to be a success."""


@dataclass(frozen=True)
class Rule:
    """One row of the answer table, in the order `classify` applies them."""

    answer: str
    """The answers the row covers."""
    outcome: Outcome
    """What they mean."""


RULES: Final = (
    Rule(
        "3xx (any redirect): not followed; the error names the status and the Location origin",
        Outcome.FATAL,
    ),
    Rule("2xx with a JSON Content-Type, a body that parses and every promised field", Outcome.OK),
    Rule(
        "any other 2xx: HTML, truncated or oversized JSON, 204, a promised field missing",
        Outcome.FATAL,
    ),
    Rule(
        "412, 429, 500, 502, 503, 504, whatever the body (Retry-After honoured)", Outcome.TRANSIENT
    ),
    Rule(
        "Vault's JSON whose errors say sealed or standby (or, except for 400/403/404, not active, "
        "leader, timeout)",
        Outcome.TRANSIENT,
    ),
    Rule(
        "Vault's JSON 404 to a KV v2 read that carries `data.metadata` (a deleted or destroyed "
        "version)",
        Outcome.OK,
    ),
    Rule(
        'Vault\'s JSON 404 `{"errors": []}` to a read (KV v1, KV v2, KV v2 metadata, mount lookup)',
        Outcome.NOT_FOUND,
    ),
    Rule(
        "Vault's JSON 400 with `check-and-set` in its errors, to a KV v2 create", Outcome.CONFLICT
    ),
    Rule(
        "Vault's JSON 401 or 403 (and 400 to a mount lookup: Vault's preflight check)",
        Outcome.DENIED,
    ),
    Rule(
        "anything else: other statuses, and any 4xx/5xx body that is not Vault's JSON",
        Outcome.FATAL,
    ),
)
"""The answer table; docs/injector.md shows it and a test checks that they agree."""


def media_type(content_type: str) -> str:
    """``application/json`` from ``application/json; charset=utf-8``."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    """Whether a Content-Type is JSON (``application/json`` or a ``+json`` type)."""
    kind = media_type(content_type)
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _json_object(wire: Wire) -> tuple[dict[str, Any] | None, str]:
    """The body as a JSON object, or None and why not (for the message)."""
    if not wire.complete:
        return None, f"an answer larger than {wire.limit} bytes (not read)"
    if wire.content_encoding.strip().lower() not in ("", "identity"):
        encoding = one_line(wire.content_encoding, 40)
        return None, f"a body compressed with {encoding!r} (not requested)"
    if not is_json(wire.content_type):
        shown = one_line(media_type(wire.content_type), 60) or "no Content-Type"
        return None, f"Content-Type {shown!r}, not JSON"
    if not wire.body:
        return None, "an empty body"
    try:
        body = json.loads(wire.body)
    except (ValueError, UnicodeDecodeError):
        return None, "JSON that does not parse (truncated?)"
    if not isinstance(body, dict):
        return None, "JSON that is not an object"
    return body, ""


def _errors(body: dict[str, Any] | None, redactor: Redactor) -> tuple[bool, tuple[str, ...]]:
    """Whether the body is Vault's error JSON, and its errors quoted (redacted, bounded)."""
    if body is None or not isinstance(body.get("errors"), list):
        return False, ()
    quoted = []
    for item in body["errors"][:MAX_ERRORS]:
        text = redactor.quote(item if isinstance(item, str) else json.dumps(item))
        if text:
            quoted.append(text)
    return True, tuple(quoted)


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds, or an HTTP date given ``now``)."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(int(value[:8])), MAX_RETRY_AFTER)
    if now is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    seconds = when.timestamp() - now
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else None


def _origin(location: str) -> str:
    """Where a redirect points: its scheme and host (never its path or query), or "this origin"."""
    try:
        parts = urlsplit(location.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return "an unparsable Location"
    if not host:
        return "a path on the same origin" if location.strip() else "nowhere (no Location)"
    shown = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    return one_line(shown, 120)


def _with_errors(status: int, errors: tuple[str, ...]) -> str:
    return f"Vault answered {status}" + (f": {'; '.join(errors)}" if errors else "")


def _not_vault(status: int, why: str) -> str:
    hint = " (a proxy's page, or a wrong path prefix in VAULT_ADDR?)" if status == 404 else ""
    return f"answered {status} with {why}: not Vault's answer, body not shown{hint}"


def classify(
    endpoint: Endpoint, wire: Wire, redactor: Redactor, now: float | None = None
) -> Answer:
    """The `Answer` for ``wire`` under `RULES`; ``now`` (wall clock) reads HTTP-date Retry-After."""
    status = wire.status
    body, why_not = _json_object(wire)
    if 300 <= status < 400:
        target = redactor.quote(_origin(wire.location), 120)
        return Answer(
            endpoint,
            Outcome.FATAL,
            status,
            reason=f"answered {status} redirecting to {target}; redirects are never followed, so "
            "the token goes only to VAULT_ADDR (point VAULT_ADDR at Vault itself: its active "
            "node or a load balancer that forwards to it)",
        )
    if 200 <= status < 300:
        return _success(endpoint, wire, body, why_not)
    if status == 404 and endpoint is Endpoint.KV2_READ and body is not None:
        try:  # Vault's answer for a deleted or destroyed version: 404 with the metadata
            value = _kv2_secret(body)
        except _Broken:
            pass
        else:
            if not value.live:
                return Answer(endpoint, Outcome.OK, status, value, from_vault=True)
    from_vault, errors = _errors(body, redactor)
    text = " ".join(errors)
    transient = status in TRANSIENT_STATUSES or (
        from_vault
        and (
            bool(ALWAYS_TRANSIENT_ERRORS.search(text))
            or (status not in (400, 403, 404) and bool(TRANSIENT_ERRORS.search(text)))
        )
    )
    if transient:
        reason = _with_errors(status, errors) if from_vault else _not_vault(status, why_not)
        return Answer(
            endpoint,
            Outcome.TRANSIENT,
            status,
            reason=reason,
            errors=errors,
            from_vault=from_vault,
            retry_after=parse_retry_after(wire.retry_after, now),
        )
    if not from_vault:
        return Answer(endpoint, Outcome.FATAL, status, reason=_not_vault(status, why_not))
    assert body is not None
    reason = _with_errors(status, errors)
    if status == 404 and endpoint in READS and not body["errors"]:
        return Answer(endpoint, Outcome.NOT_FOUND, status, reason=reason, from_vault=True)
    if status == 400 and endpoint is Endpoint.KV2_CREATE and CAS_MISMATCH in text:
        return Answer(
            endpoint, Outcome.CONFLICT, status, reason=reason, errors=errors, from_vault=True
        )
    if status in (401, 403) or (status == 400 and endpoint is Endpoint.MOUNT):
        return Answer(
            endpoint, Outcome.DENIED, status, reason=reason, errors=errors, from_vault=True
        )
    return Answer(endpoint, Outcome.FATAL, status, reason=reason, errors=errors, from_vault=True)


def _success(endpoint: Endpoint, wire: Wire, body: dict[str, Any] | None, why_not: str) -> Answer:
    status = wire.status
    promise = PROMISES[endpoint]
    if promise.allows_empty and wire.complete and not wire.body:
        return Answer(endpoint, Outcome.OK, status, promise.extract({}), from_vault=True)
    if body is None:
        return Answer(
            endpoint,
            Outcome.FATAL,
            status,
            reason=f"answered {status} with {why_not}, not the {promise.fields} a "
            f"{endpoint.value} answer carries: not Vault's answer, body not shown",
        )
    try:
        value = promise.extract(body)
    except _Broken as exc:
        return Answer(
            endpoint,
            Outcome.FATAL,
            status,
            reason=f"answered {status} without {exc}, which a {endpoint.value} answer carries: "
            "not Vault's answer",
        )
    return Answer(endpoint, Outcome.OK, status, value, from_vault=True)
