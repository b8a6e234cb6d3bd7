"""`webhook.logs`: JSON lines by default, text on request, fields carried through."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from webhook.logs import configure, fields


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


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


def test_text_format_writes_key_value_pairs_and_configure_does_not_duplicate() -> None:
    stream = io.StringIO()
    configure("text", stream=stream)
    configure("text", stream=stream)
    logging.getLogger("webhook.test").warning("refused", extra=fields(reason="not-json"))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("WARNING refused reason=not-json")
