"""What came off the wire for one request, and the facts read from it before any table applies.

The transport (`injector.vault.transport`) fills a `Wire` with at most the endpoint's limit of
body bytes and the few headers that matter; the reply table (`injector.vault.replies`) asks it
whether the body is a JSON object (`json_object`, with the reason why not, for the message),
where a redirect points (`origin`, scheme and host only) and how long a Retry-After asks to wait.
Pure: standard library only.
"""

from __future__ import annotations

import email.utils
import json
import math
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from injector.redact import one_line

MAX_RETRY_AFTER: Final = 3600.0
"""Longest Retry-After taken as given, in seconds; a longer one is capped (the deadline decides)."""


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
    """False when the reply was larger than `limit` and was not read whole."""
    limit: int = 0
    """The size limit the transport applied, in bytes (for the message)."""
    location: str = ""
    """The Location header, for redirects."""
    retry_after: str = ""
    """The Retry-After header."""
    content_encoding: str = ""
    """The Content-Encoding header (the transport asks for none)."""


def media_type(content_type: str) -> str:
    """``application/json`` from ``application/json; charset=utf-8``."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    """Whether a Content-Type is JSON (``application/json`` or a ``+json`` type)."""
    kind = media_type(content_type)
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def json_object(wire: Wire) -> tuple[dict[str, Any] | None, str]:
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


def origin(location: str) -> str:
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
