"""`vsi_common.logs`: JSON lines by default, text on request, fields carried through."""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator
from typing import Literal

import orjson
import pytest

from vsi_common.logs import configure, fields, info_line


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def test_json_lines_carry_message_level_and_fields() -> None:
    stream = io.StringIO()
    configure("json", stream=stream)
    logging.getLogger("webhook.test").info("review", extra=fields(uid="u1", latency_ms=1.5))
    line = orjson.loads(stream.getvalue().splitlines()[-1])
    assert line["msg"] == "review"
    assert line["level"] == "info"
    assert line["logger"] == "webhook.test"
    assert (line["uid"], line["latency_ms"]) == ("u1", 1.5)
    assert line["ts"].endswith("+00:00")


def test_a_libraries_warning_is_a_json_line_too() -> None:
    stream = io.StringIO()
    configure("json", stream=stream)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("something a library says", UserWarning, stacklevel=1)
    line = orjson.loads(stream.getvalue().splitlines()[-1])
    assert line["logger"] == "py.warnings"
    assert line["level"] == "warning"
    assert "something a library says" in line["msg"]


def test_text_format_writes_key_value_pairs_and_configure_does_not_duplicate() -> None:
    stream = io.StringIO()
    configure("text", stream=stream)
    configure("text", stream=stream)
    logging.getLogger("webhook.test").warning("refused", extra=fields(reason="not-json"))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("WARNING refused reason=not-json")


REVIEW = {"uid": "u1", "kind": "Pod", "dry_run": False, "profile": None, "latency_ms": 1.5}


def bare_root() -> None:
    """No handler on the root logger but the one `configure` adds next.

    pytest adds its capture handlers for the test's call phase, after the fixtures ran, so the
    tests call this first; `_restore_root_logger` puts everything back.
    """
    logging.getLogger().handlers.clear()


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every LogRecord built while the test runs (the direct path of `info_line` builds none)."""
    made: list[logging.LogRecord] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        made.append(record)
        return record

    logging.setLogRecordFactory(counting)
    yield made
    logging.setLogRecordFactory(factory)


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_info_line_writes_what_logging_would_without_a_log_record(
    log_format: Literal["json", "text"], records: list[logging.LogRecord]
) -> None:
    bare_root()
    stream = io.StringIO()
    configure(log_format, stream=stream)
    logger = logging.getLogger("webhook.test")
    info_line(logger, "review", REVIEW)
    assert records == []
    logger.info("review", extra=fields(**REVIEW))
    assert len(records) == 1
    direct, ordinary = stream.getvalue().splitlines()
    if log_format == "json":
        a, b = orjson.loads(direct), orjson.loads(ordinary)
        assert a.pop("ts").endswith("+00:00")
        assert b.pop("ts").endswith("+00:00")
        assert a == b
        assert list(a) == ["level", "logger", "msg", *REVIEW]
    else:
        assert direct.split(" ", 1)[1] == ordinary.split(" ", 1)[1]
        assert direct.endswith(
            "INFO review uid=u1 kind=Pod dry_run=False profile=None latency_ms=1.5"
        )


def test_info_line_reaches_every_other_handler_through_logging(
    records: list[logging.LogRecord],
) -> None:
    bare_root()
    stream, other = io.StringIO(), io.StringIO()
    configure("json", stream=stream)
    extra_handler = logging.StreamHandler(other)
    logging.getLogger("webhook").addHandler(extra_handler)
    try:
        info_line(logging.getLogger("webhook.test"), "review", REVIEW)
    finally:
        logging.getLogger("webhook").removeHandler(extra_handler)
    assert len(records) == 1
    assert records[0].vsi_fields == REVIEW  # type: ignore[attr-defined]
    assert other.getvalue() == "review\n"
    assert orjson.loads(stream.getvalue())["uid"] == "u1"


def test_info_line_respects_level_filters_and_disabled_loggers() -> None:
    bare_root()
    stream = io.StringIO()
    configure("json", stream=stream)
    logger = logging.getLogger("webhook.test.quiet")
    logger.setLevel(logging.WARNING)
    info_line(logger, "review", REVIEW)
    logger.setLevel(logging.NOTSET)
    logger.addFilter(lambda record: False)
    info_line(logger, "review", REVIEW)
    logger.filters.clear()
    logger.disabled = True
    info_line(logger, "review", REVIEW)
    logger.disabled = False
    assert stream.getvalue() == ""
    info_line(logger, "review", REVIEW)
    assert orjson.loads(stream.getvalue())["logger"] == "webhook.test.quiet"


def test_info_line_never_raises_into_the_caller(capsys: pytest.CaptureFixture[str]) -> None:
    bare_root()
    stream = io.StringIO()
    configure("json", stream=stream)
    info_line(logging.getLogger("webhook.test"), "review", {"bad": {1: "not a JSON key"}})
    stream.close()
    info_line(logging.getLogger("webhook.test"), "review", REVIEW)
    assert "Logging error" in capsys.readouterr().err
