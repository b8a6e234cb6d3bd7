"""The shared preflight report: the exit-code rule and both renderings, check by check."""

from __future__ import annotations

import json

import pytest

from vsi_common import report
from vsi_common.report import Check

CHECKS = [
    Check("auth", "ok", "token valid, policies default, reader"),
    Check("kv-version", "warn", "VAULT_BACKEND says kv-v2", fix="unset VAULT_BACKEND"),
    Check(
        "access:data-0",
        "fail",
        "the token may not create secret/data/x",
        fix='path "secret/data/x" { capabilities = ["create"] }',
    ),
]


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ([], 0),
        (["ok"], 0),
        (["ok", "warn"], 0),
        (["warn", "fail", "ok"], 1),
        (["fail"], 1),
    ],
)
def test_any_failing_check_means_exit_1(statuses: list[report.Status], code: int) -> None:
    checks = [Check(f"c{i}", s, "d") for i, s in enumerate(statuses)]

    assert report.exit_code(checks) == code


def test_json_is_one_object_per_check_with_the_four_fields() -> None:
    parsed = json.loads(report.render(CHECKS, "json"))

    assert parsed == [
        {
            "name": "auth",
            "status": "ok",
            "detail": "token valid, policies default, reader",
            "fix": "",
        },
        {
            "name": "kv-version",
            "status": "warn",
            "detail": "VAULT_BACKEND says kv-v2",
            "fix": "unset VAULT_BACKEND",
        },
        {
            "name": "access:data-0",
            "status": "fail",
            "detail": "the token may not create secret/data/x",
            "fix": 'path "secret/data/x" { capabilities = ["create"] }',
        },
    ]


def test_the_table_aligns_columns_puts_each_fix_under_its_check_and_sums_up() -> None:
    lines = report.render(CHECKS, "table").splitlines()

    assert lines == [
        "STATUS  CHECK          DETAIL",
        "ok      auth           token valid, policies default, reader",
        "warn    kv-version     VAULT_BACKEND says kv-v2",
        "                       fix: unset VAULT_BACKEND",
        "fail    access:data-0  the token may not create secret/data/x",
        '                       fix: path "secret/data/x" { capabilities = ["create"] }',
        "1 ok, 1 warn, 1 fail",
    ]


def test_a_detail_with_line_breaks_stays_on_one_line() -> None:
    check = Check("auth", "fail", "Vault answered 403:\n\t* permission denied\n")

    table = report.render_table([check])
    (entry,) = report.as_dicts([check])

    assert "403: * permission denied" in table.splitlines()[1]
    assert entry["detail"] == "Vault answered 403: * permission denied"


def test_a_check_refuses_an_unknown_status_or_a_name_with_spaces() -> None:
    with pytest.raises(ValueError, match="status must be one of ok, warn, fail"):
        Check("auth", "error", "d")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a check name is one word"):
        Check("key data-0", "ok", "d")


def test_an_unknown_output_format_is_refused() -> None:
    with pytest.raises(ValueError, match="output format must be one of table, json"):
        report.render(CHECKS, "yaml")
