"""Log lines carry the per-volume fields; docs/injector.md documents every name and flag."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from injector import logs, names
from injector.settings import build_parser

DOCS = Path(__file__).resolve().parents[3] / "docs" / "injector.md"


def test_json_log_line_carries_extra_fields() -> None:
    stream = io.StringIO()
    logs.configure("json", stream)

    logging.getLogger("injector.test").info("key ready", extra={"volume": "v", "kv_version": 2})

    line = json.loads(stream.getvalue())
    assert (line["level"], line["msg"], line["volume"], line["kv_version"]) == (
        "info",
        "key ready",
        "v",
        2,
    )


def test_text_log_line_is_key_value() -> None:
    stream = io.StringIO()
    logs.configure("text", stream)

    logging.getLogger("injector.test").warning("careful", extra={"volume": "v"})

    assert stream.getvalue() == "WARNING careful volume=v\n"


def test_docs_name_every_environment_variable() -> None:
    text = DOCS.read_text()
    constants = [
        v for k, v in vars(names).items() if k.startswith(("VAULT_", "VSI_")) and isinstance(v, str)
    ]

    missing = [name for name in constants if f"`{name}`" not in text]

    assert constants
    assert missing == []


def test_docs_name_every_flag() -> None:
    text = DOCS.read_text()
    flags = [
        o
        for a in build_parser()._actions
        for o in a.option_strings
        if o.startswith("--") and o != "--help"
    ]

    missing = [flag for flag in flags if f"`{flag}" not in text]

    assert flags
    assert missing == []
