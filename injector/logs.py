"""Logging for the injector: one JSON line per volume and a summary line, never a key or token.

Configured once by ``cli.main``. Structured fields travel in ``extra`` and become JSON keys
(``--log-format json``, the default, for log pipelines) or ``key=value`` pairs (``text``).
Nothing secret is ever passed in; the tests search every run's output for the key and the token.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any, Final, TextIO

LOGGER_NAME: Final = "injector"
"""Parent logger of every injector module."""
_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {
    "message",
    "asctime",
    "taskName",
}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, msg, then the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        line.update(_fields(record))
        return json.dumps(line, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``LEVEL message key=value ...`` for people reading ``kubectl logs``."""

    def format(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        return f"{record.levelname} {record.getMessage()}" + (f" {pairs}" if pairs else "")


def configure(log_format: str, stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Send the injector's logs to ``stream`` (stderr) in ``json`` or ``text``; idempotent."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def emergency(level: int, message: str, fields: dict[str, Any]) -> None:
    """Write one log line straight to stderr's descriptor, taking no lock (for a signal handler).

    The watchdog may interrupt a thread that holds the logging handler's lock, so this formats
    with the configured formatter and calls ``os.write`` itself.
    """
    logger = logging.getLogger(LOGGER_NAME)
    record = logger.makeRecord(logger.name, level, __file__, 0, message, (), None, extra=fields)
    formatter = logger.handlers[0].formatter if logger.handlers else None
    line = (formatter or JsonFormatter()).format(record)
    try:
        os.write(sys.stderr.fileno(), (line + "\n").encode())
    except (OSError, ValueError):
        os.write(2, (line + "\n").encode())
