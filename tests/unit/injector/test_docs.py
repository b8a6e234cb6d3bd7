"""docs/injector.md documents every environment name, flag and the reply table the code applies."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from injector import layouts, redact
from injector.check.preflight import CHECK_NAMES
from injector.cli import build_parser
from injector.vault.endpoints import ENDPOINTS, MAX_LISTING, MAX_REPLY
from injector.vault.replies import MAX_ERRORS, TABLE, TRANSIENT_STATUSES, Outcome, Row
from vsi_common import names

DOCS = Path(__file__).resolve().parents[3] / "docs" / "injector.md"
TROUBLESHOOTING = DOCS.parent / "troubleshooting.md"


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
        o for a in build_parser()._actions for o in a.option_strings if o not in ("-h", "--help")
    ]

    # `--output` must be named itself, not found inside `--output-dir`.
    missing = [flag for flag in flags if not re.search(rf"`{re.escape(flag)}(?![\w-])", text)]

    assert flags
    assert missing == []


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines) + "\n"


def endpoint_table() -> str:
    """The endpoints table of docs/injector.md, rendered from `ENDPOINTS`."""
    rows = [[e.name, e.request, e.schema.fields] for e in ENDPOINTS]
    return _table(["endpoint", "request", "a success carries"], rows)


def _row(row: Row) -> list[str]:
    covered = (
        "any"
        if row.endpoints is None
        else ", ".join(e.name for e in ENDPOINTS if e in row.endpoints)
    )
    errors = "`" + row.errors.pattern.replace("|", "\\|") + "`" if row.errors is not None else ""
    return [row.statuses.label, covered, row.body.value, errors, f"`{row.outcome.value}`", row.note]


def reply_table() -> str:
    """The reply table of docs/injector.md, rendered from `TABLE`, in the order it applies."""
    header = ["status", "endpoint", "body", "Vault's errors match", "outcome", "note"]
    return _table(header, [_row(row) for row in TABLE])


@pytest.mark.parametrize("render", [endpoint_table, reply_table])
def test_docs_show_the_tables_the_classifier_executes(render: Callable[[], str]) -> None:
    """The tables in the doc are the data itself: rendered from it here, found whole there."""
    section = _section(DOCS.read_text(), "What the injector trusts")

    assert render() in section, "paste this table into docs/injector.md:\n" + render()


def test_docs_name_every_outcome() -> None:
    section = _section(DOCS.read_text(), "What the injector trusts")

    for outcome in Outcome:
        assert f"| `{outcome.value}` |" in section


def test_docs_state_the_limits_the_code_uses() -> None:
    text = " ".join(DOCS.read_text().split())
    section = " ".join(_section(DOCS.read_text(), "What the injector trusts").split())

    assert ", ".join(str(s) for s in sorted(TRANSIENT_STATUSES)) in text
    assert f"{MAX_REPLY // 1024} KiB of an answer" in section
    assert f"{MAX_LISTING // (1024 * 1024)} MiB for the `sys/mounts`" in section
    assert f"each at most {redact.MAX_QUOTED} characters" in section
    assert f"{redact.MIN_FRAGMENT} or more characters of one" in section
    assert f"at most {['zero', 'one', 'two', 'three'][MAX_ERRORS]}" in section
    assert f"exactly {layouts.VOLUME_KEY_BYTES} bytes" in section
    assert f"decodes to {layouts.ROOK_KEY_BYTES} bytes" in section


def test_troubleshooting_maps_every_check_to_its_fix() -> None:
    section = _section(TROUBLESHOOTING.read_text(), "`vsi-injector --check`")
    rows = {
        line.split("|")[1].strip().strip("`").split(":")[0]: line.split("|")[3].strip()
        for line in section.splitlines()
        if line.startswith("| `")
    }

    assert set(rows) == set(CHECK_NAMES)
    assert all(rows.values())  # every row says what to do
