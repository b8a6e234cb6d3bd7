"""docs/injector.md documents every environment name, flag and the answer table the code applies."""

from __future__ import annotations

import re
from pathlib import Path

from injector import layouts, redact
from injector.check.preflight import CHECK_NAMES
from injector.cli import build_parser
from injector.vault import transport
from injector.vault.replies import MAX_ERRORS, RULES, TRANSIENT_STATUSES, Outcome
from injector.vault.schemas import PROMISES
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


def test_docs_list_the_answer_table_as_the_code_applies_it() -> None:
    section = _section(DOCS.read_text(), "What the injector trusts")
    rows = [f"| {rule.answer} | `{rule.outcome.value}` |" for rule in RULES]

    positions = [section.find(row) for row in rows]

    assert -1 not in positions, [r for r, p in zip(rows, positions, strict=True) if p == -1]
    assert positions == sorted(positions)  # in the order classify applies them


def test_docs_name_every_endpoint_promise_and_every_outcome() -> None:
    section = _section(DOCS.read_text(), "What the injector trusts")

    for endpoint, promise in PROMISES.items():
        row = next(
            line for line in section.splitlines() if line.startswith(f"| {endpoint.value} |")
        )
        assert row.endswith(f"| {promise.fields} |"), row
    for outcome in Outcome:
        assert f"| `{outcome.value}` |" in section


def test_docs_state_the_limits_the_code_uses() -> None:
    text = " ".join(DOCS.read_text().split())
    section = " ".join(_section(DOCS.read_text(), "What the injector trusts").split())

    assert ", ".join(str(s) for s in sorted(TRANSIENT_STATUSES)) in text
    assert f"{transport.MAX_ANSWER // 1024} KiB of an answer" in section
    assert f"{transport.MAX_LISTING // (1024 * 1024)} MiB for the `sys/mounts`" in section
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
