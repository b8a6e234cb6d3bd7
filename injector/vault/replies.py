"""The answer contract: what every Vault answer means, decided in one place and nowhere else.

Between the injector and Vault there may be a proxy, a load balancer, an ingress or a captive
portal, and each can answer in Vault's place: 200 with an HTML page, a JSON body cut short, a 404
page, a redirect to somewhere else. A key counts only when Vault provably holds it, so an answer is
a success only when it has a 2xx status, a JSON Content-Type, a body that parses and every field the
endpoint promises (`PROMISES`); a 404 means "no key" only when it is Vault's own JSON
(``{"errors": []}``). `classify` turns what came off the wire (`Wire`) into one `Answer` whose
`Outcome` the callers act on; endpoint code never re-decides what a status means. The transport
(`injector.vault.transport`) reads the wire, the session (`injector.vault.session`) retries what is
`TRANSIENT`.

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
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from injector.redact import Redactor, one_line
from injector.vault.schemas import PROMISES, BrokenPromise, Endpoint, Value, kv2_secret


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
        return _redirect(endpoint, wire, redactor)
    if 200 <= status < 300:
        return _success(endpoint, wire, body, why_not)
    deleted = _deleted_version(endpoint, status, body)
    if deleted is not None:
        return deleted
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


def _redirect(endpoint: Endpoint, wire: Wire, redactor: Redactor) -> Answer:
    """A 3xx: never followed; the reason names the status and where it pointed (its origin)."""
    target = redactor.quote(_origin(wire.location), 120)
    return Answer(
        endpoint,
        Outcome.FATAL,
        wire.status,
        reason=f"answered {wire.status} redirecting to {target}; redirects are never followed, "
        "so the token goes only to VAULT_ADDR (point VAULT_ADDR at Vault itself: its active "
        "node or a load balancer that forwards to it)",
    )


def _deleted_version(endpoint: Endpoint, status: int, body: dict[str, Any] | None) -> Answer | None:
    """Vault's answer for a deleted or destroyed KV v2 version: a 404 that carries the metadata."""
    if status != 404 or endpoint is not Endpoint.KV2_READ or body is None:
        return None
    try:
        value = kv2_secret(body)
    except BrokenPromise:
        return None
    if value.live:
        return None
    return Answer(endpoint, Outcome.OK, status, value, from_vault=True)


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
    except BrokenPromise as exc:
        return Answer(
            endpoint,
            Outcome.FATAL,
            status,
            reason=f"answered {status} without {exc}, which a {endpoint.value} answer carries: "
            "not Vault's answer",
        )
    return Answer(endpoint, Outcome.OK, status, value, from_vault=True)
