"""What aiohttp's HTTP server logs about broken requests, as one line of ours without their bytes.

aiohttp logs a request it cannot parse (a bad request line, a header it refuses, broken chunked
encoding) as an ERROR with a traceback whose message quotes the raw bytes it choked on: object
contents and env values, outside the bad-request metric. `HttpServerLog` is the logger each
connection's aiohttp handler gets instead (its ``logger=`` argument): such a framing error becomes
one ``bad request`` line with the peer, the status and a reason (and counts as a bad request),
never the bytes or a traceback. Anything else goes on to ``aiohttp.server`` as aiohttp wrote it.
`framing_reason` is the one table from aiohttp's parser errors to reasons; the /mutate view uses
it too, for framing errors it meets while reading a body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from aiohttp import http_exceptions as http

from vsi_common.logs import fields

log = logging.getLogger(__name__)

AIOHTTP_SERVER: Final = "aiohttp.server"
"""The logger aiohttp's request handler writes to by default."""
FRAMING_STATUS: Final = 400
"""The status aiohttp answers a framing error with."""

_REASONS: Final[tuple[tuple[type[Exception], str, str], ...]] = (
    (http.TransferEncodingError, "bad-chunked-encoding", "broken chunked transfer encoding"),
    (http.ContentLengthError, "incomplete-body", "body shorter than its Content-Length"),
    (http.LineTooLong, "line-too-long", "request line or header too long"),
    (http.InvalidHeader, "bad-header", "malformed header"),
    (http.BadHttpMethod, "bad-method", "malformed method"),
    (http.BadStatusLine, "bad-request-line", "malformed request line"),
    (http.InvalidURLError, "bad-url", "malformed request target"),
)
"""aiohttp's parser errors, most specific first: (class, metric reason, one-line description)."""
_HINTS: Final[tuple[tuple[str, str, str], ...]] = (
    ("chunk", "bad-chunked-encoding", "broken chunked transfer encoding"),
    ("transfer-encoding", "bad-transfer-encoding", "malformed Transfer-Encoding"),
    ("content-length", "bad-content-length", "malformed Content-Length"),
    ("header", "bad-header", "malformed header"),
    ("method", "bad-method", "malformed method"),
    ("version", "bad-request-line", "malformed request line"),
    ("url", "bad-url", "malformed request target"),
)
"""aiohttp's C parser reports most errors as a plain `BadHttpMessage` whose first words are
llhttp's reason ("Invalid character in chunk size"): (word in them, reason, description). Only
our own reason and description are logged, never that text, which goes on to quote the bytes."""
_GENERIC: Final = ("bad-framing", "malformed HTTP message")


def _reason_of(exc: BaseException) -> tuple[str, str] | None:
    for kind, reason, description in _REASONS:
        if isinstance(exc, kind):
            return reason, description
    if not isinstance(exc, http.HttpProcessingError):
        return None
    words = str(exc.message).split(":", 1)[0].lower()
    for hint, reason, description in _HINTS:
        if hint in words:
            return reason, description
    return _GENERIC


def framing_reason(exc: BaseException | None) -> tuple[str, str] | None:
    """``(reason, description)`` when ``exc`` (or what caused it) is an HTTP framing error."""
    for _ in range(3):  # aiohttp wraps a payload's parser error once
        if exc is None:
            return None
        found = _reason_of(exc)
        if found is not None:
            return found
        exc = exc.__cause__
    return None


class HttpServerLog(logging.Logger):
    """The logger aiohttp's request handlers get: framing errors made safe, the rest passed on."""

    def __init__(self, on_bad_request: Callable[[str], None]) -> None:
        super().__init__(AIOHTTP_SERVER)
        self.parent = logging.getLogger(AIOHTTP_SERVER)
        self._on_bad_request = on_bad_request

    def _framing(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        exc = kwargs.get("exc_info")
        found = framing_reason(exc) if isinstance(exc, BaseException) else None
        if found is None:
            return False
        reason, description = found
        self._on_bad_request(reason)
        # aiohttp's message is "Error handling request from %s" with the peer as its argument.
        peer = args[0] if args else None
        log.warning(
            "bad request",
            extra=fields(status=FRAMING_STATUS, reason=reason, error=description, peer=peer),
        )
        return True

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """aiohttp logs garbage in a connection's first request line at debug level."""
        if not self._framing(args, kwargs):
            super().debug(msg, *args, **kwargs)

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """``exception()``, which aiohttp calls for every other framing error, lands here."""
        if not self._framing(args, kwargs):
            super().error(msg, *args, **kwargs)
