"""docs/troubleshooting.md maps every doctor check to its fix; docs/doctor.md names every flag."""

from __future__ import annotations

import argparse
from pathlib import Path

from webhook.cli import build_parser
from webhook.doctor import state

DOCS = Path(__file__).resolve().parents[3] / "docs"
TROUBLESHOOTING = (DOCS / "troubleshooting.md").read_text()
DOCTOR = (DOCS / "doctor.md").read_text()


def _section(text: str, heading: str) -> str:
    return text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_troubleshooting_maps_every_doctor_check_to_its_fix() -> None:
    section = _section(TROUBLESHOOTING, "`vsi-webhook doctor`")
    rows = {
        line.split("|")[1].strip().strip("`").split(":")[0]: line.split("|")[3].strip()
        for line in section.splitlines()
        if line.startswith("| `")
    }

    assert set(rows) == set(state.CHECK_NAMES)
    assert all(rows.values())  # every row says what to do


def _doctor_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = sub.choices["doctor"]
    return parser


def test_doctor_md_names_every_flag_and_default() -> None:
    flags = [o for a in _doctor_parser()._actions for o in a.option_strings if o.startswith("--")]

    assert flags
    assert [f for f in flags if f != "--help" and f not in DOCTOR] == []
    defaults = state.Locations()
    for value in (
        defaults.namespace,
        defaults.webhook_config,
        defaults.service,
        defaults.secret,
        defaults.config_map,
        defaults.rotate_cronjob,
        state.CONFIG_KEY,
    ):
        assert f"`{value}`" in DOCTOR
