"""Structured logging for the webhook, configured once by the entry point.

Log collectors in a cluster want one JSON object per line; a person at a terminal wants text. Code
logs through module loggers and passes structured fields with `fields(...)`; this module decides how
they are written. Callers pass identifiers only (uid, kind, namespace, name, outcome): never an
object's env values, a Secret or a token.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import orjson

from webhook.settings import LogFormat

FIELDS_ATTR = "vsi_fields"
"""LogRecord attribute that carries the structured fields of one line."""
LOGGER_NAME = "webhook"
"""Parent logger of every module in the package."""

_HANDLER_MARK = "_vsi_handler"


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for a log call: ``log.info("review", extra=fields(uid=..., outcome=...))``."""
    return {FIELDS_ATTR: values}


_second: list[tuple[int, str]] = [(-1, "")]
"""The last whole second formatted, so one line per review does not format a date each time."""


def _timestamp(record: logging.LogRecord) -> str:
    """ISO 8601 UTC with milliseconds, e.g. ``2026-11-23T12:24:47.357+00:00``."""
    second = int(record.created)
    cached = _second[0]
    if cached[0] != second:
        text = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        cached = _second[0] = (second, text)
    return f"{cached[1]}.{int(record.msecs):03d}+00:00"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the structured fields, then any error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra: Mapping[str, Any] | None = getattr(record, FIELDS_ATTR, None)
        if extra:
            line.update(extra)
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """``<ts> <LEVEL> <msg> key=value ...`` for people."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, record.getMessage()]
        extra: Mapping[str, Any] | None = getattr(record, FIELDS_ATTR, None)
        if extra:
            parts.extend(f"{key}={value}" for key, value in extra.items())
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure(
    log_format: LogFormat, *, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """Send the webhook's and aiohttp's records to ``stream`` (stderr) in ``log_format``.

    Calling it again replaces the handler it installed before, so tests and repeated runs do not
    duplicate lines.
    """
    # One line per review is on the admission path: skip what the lines never show (the caller's
    # file and line, thread and process names), which the logging docs list as the costly parts.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp's access log would duplicate the per-review line; probes would flood it.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
