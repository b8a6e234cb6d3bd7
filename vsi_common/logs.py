"""One log schema for every command, configured once by each entry point.

Log collectors in a cluster want one JSON object per line; a person at a terminal wants text. Code
logs through module loggers and passes structured fields with `fields(...)`; this module decides how
they are written: ``{"ts", "level", "logger", "msg", <fields>...}`` in JSON, or
``<ts> <LEVEL> <msg> key=value ...`` in text, for the webhook, the injector and vsi-certs alike.
Callers pass identifiers only (uid, kind, namespace, name, volume, outcome): never an object's env
values, a Secret, a token or a key.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import Any, Final, Literal, TextIO, get_args

import orjson

LogFormat = Literal["json", "text"]
"""JSON lines (the default, for log collectors) or human-readable text."""
LOG_FORMATS: Final[tuple[str, ...]] = get_args(LogFormat)
"""Accepted ``--log-format`` values, default first."""

FIELDS_ATTR: Final = "vsi_fields"
"""LogRecord attribute that carries the structured fields of one line (one attribute, so a field
named like a LogRecord attribute, ``name`` say, cannot clash with it)."""
QUIET_LOGGERS: Final = ("aiohttp.access",)
"""Loggers held at WARNING: aiohttp's access log would repeat the per-review line."""

_HANDLER_MARK = "_vsi_handler"


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for a log call: ``log.info("review", extra=fields(uid=..., outcome=...))``."""
    return {FIELDS_ATTR: values}


_second: list[tuple[int, str]] = [(-1, "")]
"""The last whole second formatted, so one line per review does not format a date each time."""


def _stamp(created: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. ``2026-11-23T12:24:47.357+00:00``."""
    second = int(created)
    cached = _second[0]
    if cached[0] != second:
        text = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        cached = _second[0] = (second, text)
    # The same truncation as `logging.LogRecord.msecs`.
    return f"{cached[1]}.{int((created - second) * 1000):03d}+00:00"


def _json_line(
    created: float, level: str, logger: str, msg: str, extra: Mapping[str, Any] | None
) -> dict[str, Any]:
    line: dict[str, Any] = {"ts": _stamp(created), "level": level, "logger": logger, "msg": msg}
    if extra:
        line.update(extra)
    return line


def _text_line(created: float, level: str, msg: str, extra: Mapping[str, Any] | None) -> str:
    parts = [_stamp(created), level, msg]
    if extra:
        parts.extend(f"{key}={value}" for key, value in extra.items())
    return " ".join(parts)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the structured fields, then any error."""

    def format(self, record: logging.LogRecord) -> str:
        extra: Mapping[str, Any] | None = getattr(record, FIELDS_ATTR, None)
        line = _json_line(
            record.created, record.levelname.lower(), record.name, record.getMessage(), extra
        )
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """``<ts> <LEVEL> <msg> key=value ...`` for people."""

    def format(self, record: logging.LogRecord) -> str:
        extra: Mapping[str, Any] | None = getattr(record, FIELDS_ATTR, None)
        text = _text_line(record.created, record.levelname, record.getMessage(), extra)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _Sink:
    """The handler `configure` installed, for `info_line` to write to directly."""

    def __init__(self, handler: logging.StreamHandler[TextIO], log_format: LogFormat) -> None:
        self.handler = handler
        self.json = log_format == "json"

    def sole_destination(self, logger: logging.Logger) -> bool:
        """Whether a record of ``logger`` would reach this handler and nothing else, unfiltered."""
        handler = self.handler
        if logger.disabled or logger.filters or handler.filters or handler.level > logging.INFO:
            return False
        current: logging.Logger | None = logger
        while current is not None:
            if current.handlers:
                return current.handlers == [handler] and current.parent is None
            if not current.propagate:
                return False
            current = current.parent
        return False

    def write(self, logger: logging.Logger, msg: str, values: Mapping[str, Any]) -> None:
        created = time.time()
        if self.json:
            line = _json_line(created, "info", logger.name, msg, values)
            text = orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE).decode()
        else:
            text = _text_line(created, "INFO", msg, values) + "\n"
        handler = self.handler
        handler.acquire()
        try:
            handler.stream.write(text)
            handler.stream.flush()
        finally:
            handler.release()


_sink: _Sink | None = None


def info_line(logger: logging.Logger, msg: str, values: Mapping[str, Any]) -> None:
    """``logger.info(msg, extra=fields(**values))``, at a third of the cost: one line per review.

    When the handler `configure` installed is the only place the record would go, the line is
    written straight to its stream, with the bytes `JsonFormatter` or `TextFormatter` would write
    and without building a `logging.LogRecord`. Anything else (another handler, a filter, a
    disabled logger, `configure` never called) takes the ordinary `logging` path.
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    sink = _sink
    if sink is not None and sink.sole_destination(logger):
        try:
            sink.write(logger, msg, values)
        except (OSError, ValueError, TypeError):
            # A broken or closed stream, or a value JSON cannot hold: `logging` reports it its
            # own way (`Handler.handleError`) instead of failing the review.
            pass
        else:
            return
    logger.info(msg, extra={FIELDS_ATTR: values})


def configure(
    log_format: LogFormat, *, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """Send every record (ours and the libraries', aiohttp's among them) and every Python warning
    to ``stream`` (stderr) in ``log_format``.

    Calling it again replaces the handler it installed before, so tests and repeated runs do not
    duplicate lines.
    """
    # Skip what the lines never show (thread and process names), which the logging docs list among
    # the costly parts of a record; one line per review is on the admission path.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    setattr(handler, _HANDLER_MARK, True)
    global _sink
    _sink = _Sink(handler, log_format)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # A library's warning would otherwise be printed by the warnings module, in its own format.
    logging.captureWarnings(True)


def emergency(logger: logging.Logger, level: int, msg: str, values: Mapping[str, Any]) -> None:
    """Write one line straight to stderr's descriptor, taking no lock (for a signal handler).

    A watchdog may interrupt a thread that holds the handler's lock, so this formats the line
    itself and calls ``os.write``.
    """
    created = time.time()
    name = logging.getLevelName(level)
    sink = _sink
    if sink is None or sink.json:
        line = _json_line(created, name.lower(), logger.name, msg, values)
        text = orjson.dumps(line, default=str).decode()
    else:
        text = _text_line(created, name, msg, values)
    os.write(2, (text + "\n").encode())
