"""What every Vault reply means: the reply table, and the classifier that executes it.

Between the injector and Vault there may be a proxy, a load balancer, an ingress or a captive
portal, and each can answer in Vault's place: 200 with an HTML page, a JSON body cut short, a 404
page, a redirect to somewhere else. A key counts only when Vault provably holds it, so a reply is
a success only when it has a 2xx status, a JSON Content-Type, a body that parses and every field
its endpoint promises (`injector.vault.schemas`); a 404 means "no key" only when it is Vault's own
JSON (``{"errors": []}``).

`TABLE` is data, and the only place that decides: one `Row` per kind of reply, in order, each
naming the statuses it covers, the endpoints it applies to, what the body must be, what Vault's
errors must say, and the `Outcome`. `classify` turns what came off the wire (`Wire`) into a
`Reply` by the first row that matches; docs/injector.md shows the same rows (a test renders them
from `TABLE`), and a test that changes one row sees the classification change. The transport
(`injector.vault.transport`) reads the wire, the session (`injector.vault.session`) retries what
is `TRANSIENT` and hands callers the typed result of their endpoint.

Every text taken from a reply (Vault's ``errors``) is quoted through the run's `Redactor`. Pure:
standard library only, so the table is unit-tested case by case (tests/unit/injector/
test_replies.py).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from injector.redact import Redactor
from injector.vault import endpoints as ep
from injector.vault.endpoints import Conflict, Denied, Endpoint, NotFound, Refusal
from injector.vault.schemas import BrokenPromise
from injector.vault.wire import Wire, json_object, origin, parse_retry_after

T = TypeVar("T")

MAX_ERRORS: Final = 3
"""Most Vault error strings quoted in one line."""


class Outcome(enum.Enum):
    """What a reply means for the caller."""

    OK = "ok"
    """A success: the endpoint's promised fields (or Vault's reply for a deleted KV v2 key)."""
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


class Body(enum.Enum):
    """What a row asks of a reply's body."""

    ANY = "any"
    """Anything, JSON or not."""
    EMPTY = "empty (a 204)"
    """Nothing at all, read whole."""
    PROMISED = "JSON with the endpoint's fields (above)"
    """A JSON object carrying every field of the endpoint's `Endpoint.schema`."""
    GONE = "Vault's JSON with `data.metadata` of a deleted or destroyed version"
    """A JSON object carrying the endpoint's `Endpoint.gone` fields."""
    VAULT = "Vault's JSON"
    """A JSON object with an ``errors`` list."""
    VAULT_NO_ERRORS = 'Vault\'s JSON `{"errors": []}`'
    """A JSON object with an empty ``errors`` list."""


class Explain(enum.Enum):
    """How the error line of a reply that is not a success explains it."""

    VAULT = "vault"
    """Vault's status and errors, or why the body is not Vault's (never the body itself)."""
    REDIRECT = "redirect"
    """The status and the origin the Location points to."""
    PROMISE = "promise"
    """The status and the promised field the success lacks."""


class Statuses(frozenset[int]):
    """The HTTP statuses a row covers, and how docs/injector.md names them."""

    __slots__ = ("label",)

    label: str
    """``3xx``, ``401, 403``, ``any but 400, 403, 404``."""

    def __new__(cls, members: Iterable[int], label: str) -> Statuses:
        statuses = super().__new__(cls, members)
        statuses.label = label
        return statuses


def span(first: int, last: int) -> Statuses:
    """Every status from ``first`` to ``last``: ``2xx`` for 200 to 299."""
    return Statuses(frozenset(range(first, last + 1)), f"{first // 100}xx")


def only(*statuses: int) -> Statuses:
    """Exactly these statuses."""
    return Statuses(frozenset(statuses), ", ".join(str(s) for s in sorted(statuses)))


def every(but: Sequence[int] = ()) -> Statuses:
    """Any status (three digits), except ``but``."""
    label = "any but " + ", ".join(str(s) for s in sorted(but)) if but else "any"
    return Statuses(frozenset(range(1000)) - frozenset(but), label)


@dataclass(frozen=True)
class Row:
    """One row of the reply table: which replies it covers, and what they mean."""

    statuses: Statuses
    """The statuses covered."""
    outcome: Outcome
    """What a matching reply means."""
    body: Body = Body.ANY
    """What the body must be."""
    endpoints: frozenset[Endpoint[Any, Any]] | None = None
    """The endpoints covered; None: every endpoint."""
    errors: re.Pattern[str] | None = None
    """What Vault's errors (quoted, joined) must match; None: anything."""
    explain: Explain = Explain.VAULT
    """How a reply that is not a success is explained."""
    note: str = ""
    """What docs/injector.md adds about the row."""


TRANSIENT_STATUSES: Final = frozenset({412, 429, 500, 502, 503, 504})
"""Retried whatever the body: consistency (412), rate limit, server and gateway errors, sealed."""
SEALED: Final = re.compile(r"sealed|standby")
"""Vault error texts that make a reply of any status transient (a sealed or standby node)."""
NOT_ACTIVE: Final = re.compile(r"not active|leader|(?i:timeout)")
"""Vault error texts that make a reply transient, except a 400, 403 or 404."""
CAS_MISMATCH: Final = re.compile(r"check-and-set")
"""Text of Vault's 400 reply when a ``cas=0`` write finds an existing version."""
READS: Final[frozenset[Endpoint[Any, Any]]] = frozenset(
    {ep.KV1_READ, ep.KV2_READ, ep.KV2_METADATA, ep.MOUNT}
)
"""Endpoints whose Vault 404 means "no such secret" (or, for the mount lookup, no such mount)."""

TABLE: Final = (
    Row(
        span(300, 399),
        Outcome.FATAL,
        explain=Explain.REDIRECT,
        note="a redirect: never followed; the error names the status and the Location origin",
    ),
    Row(
        span(200, 299),
        Outcome.OK,
        Body.EMPTY,
        frozenset({ep.KV1_WRITE}),
        note="only a read-back proves the write",
    ),
    Row(span(200, 299), Outcome.OK, Body.PROMISED),
    Row(
        span(200, 299),
        Outcome.FATAL,
        explain=Explain.PROMISE,
        note="HTML, truncated or oversized JSON, 204, a promised field missing",
    ),
    Row(
        only(404),
        Outcome.OK,
        Body.GONE,
        frozenset({ep.KV2_READ}),
        note="a deleted or destroyed key: an error, never a reason to create one",
    ),
    Row(only(*TRANSIENT_STATUSES), Outcome.TRANSIENT, note="Retry-After honoured"),
    Row(every(), Outcome.TRANSIENT, Body.VAULT, errors=SEALED),
    Row(every(but=(400, 403, 404)), Outcome.TRANSIENT, Body.VAULT, errors=NOT_ACTIVE),
    Row(only(404), Outcome.NOT_FOUND, Body.VAULT_NO_ERRORS, READS),
    Row(only(400), Outcome.CONFLICT, Body.VAULT, frozenset({ep.KV2_CREATE}), CAS_MISMATCH),
    Row(only(401, 403), Outcome.DENIED, Body.VAULT),
    Row(
        only(400),
        Outcome.DENIED,
        Body.VAULT,
        frozenset({ep.MOUNT}),
        note="Vault's preflight capability check",
    ),
    Row(
        every(),
        Outcome.FATAL,
        note="anything else: other statuses, and any body that is not Vault's JSON",
    ),
)
"""The reply table, in the order `classify` applies it; docs/injector.md shows it."""


_REFUSALS: Final[dict[Outcome, type[Refusal]]] = {
    Outcome.NOT_FOUND: NotFound,
    Outcome.CONFLICT: Conflict,
    Outcome.DENIED: Denied,
}
"""The refusal each outcome is, for the callers whose endpoint admits it."""


@dataclass(frozen=True)
class Reply(Generic[T]):
    """One classified reply: its outcome, the promised value, or the one line that explains it."""

    outcome: Outcome
    """What it means."""
    status: int
    """HTTP status."""
    value: T | None = field(default=None, repr=False)
    """The promised fields, for `Outcome.OK` (and only then)."""
    reason: str = ""
    """Why it is not OK: one line, redacted, bounded."""
    errors: tuple[str, ...] = ()
    """Vault's ``errors`` strings (redacted, bounded) when the body was Vault's JSON."""
    retry_after: float | None = None
    """Seconds the server asked to wait (Retry-After), for `Outcome.TRANSIENT`."""

    def refusal(self) -> Refusal | None:
        """The refusal a caller may take as an answer, for those outcomes; else None."""
        kind = _REFUSALS.get(self.outcome)
        return None if kind is None else kind(self.status, self.reason, self.errors)


_ANY: Final[tuple[bool, None]] = (True, None)
_NO: Final[tuple[bool, None]] = (False, None)


class _Reading:
    """What the rows ask of one wire: the body read once, Vault's errors quoted when first asked."""

    __slots__ = ("_errors", "body", "broken", "redactor", "vault_errors", "why_not", "wire")

    def __init__(self, wire: Wire, redactor: Redactor) -> None:
        self.wire = wire
        self.redactor = redactor
        self.body, self.why_not = json_object(wire)
        """The body as a JSON object, or None and why not (for the message)."""
        errors = None if self.body is None else self.body.get("errors")
        self.vault_errors: list[Any] | None = errors if isinstance(errors, list) else None
        """Vault's ``errors`` list as sent, when the body is Vault's JSON; else None."""
        self.broken = ""
        """What a 2xx body lacks of its promise, for the message."""
        self._errors: tuple[str, ...] | None = None

    def errors(self) -> tuple[str, ...]:
        """Vault's errors quoted (redacted, bounded); empty when the body is not Vault's."""
        if self._errors is None:
            quoted: list[str] = []
            for item in (self.vault_errors or ())[:MAX_ERRORS]:
                text = self.redactor.quote(item if isinstance(item, str) else json.dumps(item))
                if text:
                    quoted.append(text)
            self._errors = tuple(quoted)
        return self._errors

    def value(self, body: Body, endpoint: Endpoint[T, Any]) -> tuple[bool, T | None]:
        """Whether the body is what ``body`` asks, and the value it carries (for successes)."""
        if body is Body.ANY:
            return _ANY
        if body is Body.VAULT:
            return _ANY if self.vault_errors is not None else _NO
        if body is Body.VAULT_NO_ERRORS:
            return _ANY if self.vault_errors == [] else _NO
        if body is Body.EMPTY:
            if self.wire.complete and not self.wire.body:
                return True, endpoint.schema.extract({})
            return _NO
        schema = endpoint.schema if body is Body.PROMISED else endpoint.gone
        if schema is None or self.body is None:
            return _NO
        try:
            return True, schema.extract(self.body)
        except BrokenPromise as exc:
            self.broken = str(exc)
            return _NO


_PLANS: dict[tuple[Endpoint[Any, Any], int], tuple[Row, ...]] = {}
"""`TABLE`'s rows for each endpoint and status seen, worked out once (the table is constant)."""


def _rows(table: Sequence[Row], endpoint: Endpoint[Any, Any], status: int) -> tuple[Row, ...]:
    """The rows of ``table`` that cover ``endpoint`` and ``status``, in order."""
    plan = tuple(
        row
        for row in table
        if status in row.statuses and (row.endpoints is None or endpoint in row.endpoints)
    )
    if table is TABLE and len(_PLANS) < 4096:
        _PLANS[(endpoint, status)] = plan
    return plan


def classify(
    endpoint: Endpoint[T, Any],
    wire: Wire,
    redactor: Redactor,
    now: float | None = None,
    table: Sequence[Row] = TABLE,
) -> Reply[T]:
    """The `Reply` for ``wire`` by the first row of ``table`` that matches it.

    ``now`` (wall clock) reads an HTTP-date Retry-After.
    """
    reading = _Reading(wire, redactor)
    plan = _PLANS.get((endpoint, wire.status)) if table is TABLE else None
    for row in plan or _rows(table, endpoint, wire.status):
        matched, value = reading.value(row.body, endpoint)
        if not matched:
            continue
        if row.errors is not None and not row.errors.search(" ".join(reading.errors())):
            continue
        return _reply(row, endpoint, reading, value, now)
    raise AssertionError(f"the reply table has no row for a {wire.status}")  # the last takes all


def _reply(
    row: Row, endpoint: Endpoint[T, Any], reading: _Reading, value: T | None, now: float | None
) -> Reply[T]:
    status = reading.wire.status
    if row.outcome is Outcome.OK:
        return Reply(Outcome.OK, status, value)
    if row.explain is Explain.REDIRECT:
        target = reading.redactor.quote(origin(reading.wire.location), 120)
        return Reply(
            row.outcome,
            status,
            reason=f"answered {status} redirecting to {target}; redirects are never followed, "
            "so the token goes only to VAULT_ADDR (point VAULT_ADDR at Vault itself: its active "
            "node or a load balancer that forwards to it)",
        )
    if row.explain is Explain.PROMISE:
        return Reply(row.outcome, status, reason=_broken_promise(endpoint, reading))
    errors = reading.errors()
    if reading.vault_errors is not None:
        reason = f"Vault answered {status}" + (f": {'; '.join(errors)}" if errors else "")
    else:
        hint = " (a proxy's page, or a wrong path prefix in VAULT_ADDR?)" if status == 404 else ""
        reason = f"answered {status} with {reading.why_not}: not Vault's answer, body not shown"
        reason += hint
    retry_after = None
    if row.outcome is Outcome.TRANSIENT:
        retry_after = parse_retry_after(reading.wire.retry_after, now)
    return Reply(row.outcome, status, reason=reason, errors=errors, retry_after=retry_after)


def _broken_promise(endpoint: Endpoint[Any, Any], reading: _Reading) -> str:
    status = reading.wire.status
    if reading.body is None:
        return (
            f"answered {status} with {reading.why_not}, not the {endpoint.schema.fields} a "
            f"{endpoint.name} answer carries: not Vault's answer, body not shown"
        )
    return (
        f"answered {status} without {reading.broken}, which a {endpoint.name} answer carries: "
        "not Vault's answer"
    )
