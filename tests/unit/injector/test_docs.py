"""docs/injector.md documents every environment name and flag."""

from __future__ import annotations

from pathlib import Path

from injector.cli import build_parser
from vsi_common import names

DOCS = Path(__file__).resolve().parents[3] / "docs" / "injector.md"


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
