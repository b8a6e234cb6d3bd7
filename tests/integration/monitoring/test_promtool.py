"""Prometheus' own promtool checks the rules as the chart and kustomize render them, and its unit
tests (alerts_test.yaml) make every alert fire on one input and stay silent on a healthy one.

The last tests prove the unit tests bite: an alert whose expression never fires, or always fires,
fails them.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.manifests.conftest import Obj
from tests.integration.monitoring.conftest import (
    ALERTS_TEST,
    alert_names,
    only,
    rules,
    run_promtool,
    source_rule,
    write_rules,
)

RENDERS = ("chart", "kustomize")


def rendered(which: str, chart_objects: list[Obj], kustomize_objects: list[Obj]) -> Obj:
    return only(chart_objects if which == "chart" else kustomize_objects, "PrometheusRule")


def unit_test(rule: Obj, directory: Path, alert: str | None = None) -> tuple[int, str]:
    """``promtool test rules`` with ``rule``'s groups as rules.yaml: (exit code, its output).

    With ``alert``, only the tests that check that alert run.
    """
    write_rules(rule, directory)
    if alert is None:
        shutil.copy(ALERTS_TEST, directory / ALERTS_TEST.name)
    else:
        suite = yaml.safe_load(ALERTS_TEST.read_text())
        suite["tests"] = [
            test
            for test in suite["tests"]
            if any(case["alertname"] == alert for case in test.get("alert_rule_test", []))
        ]
        assert suite["tests"], f"no test checks {alert}"
        (directory / ALERTS_TEST.name).write_text(yaml.safe_dump(suite, sort_keys=False))
    result = run_promtool("test", "rules", ALERTS_TEST.name, cwd=directory)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("which", RENDERS)
def test_promtool_check_rules_passes_on_each_render(
    which: str, chart_objects: list[Obj], kustomize_objects: list[Obj], tmp_path: Path
) -> None:
    rule = rendered(which, chart_objects, kustomize_objects)
    result = run_promtool("check", "rules", str(write_rules(rule, tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    count = len(list(rules(source_rule())))
    assert f"SUCCESS: {count} rules found" in result.stdout


@pytest.mark.parametrize("which", RENDERS)
def test_promtool_unit_tests_pass_on_each_render(
    which: str, chart_objects: list[Obj], kustomize_objects: list[Obj], tmp_path: Path
) -> None:
    code, output = unit_test(rendered(which, chart_objects, kustomize_objects), tmp_path)
    assert code == 0, output
    assert "SUCCESS" in output


def _alert_cases() -> list[dict[str, Any]]:
    tests = yaml.safe_load(ALERTS_TEST.read_text())["tests"]
    return [case for test in tests for case in test.get("alert_rule_test", [])]


def test_the_unit_tests_make_every_alert_fire_and_stay_silent() -> None:
    cases = _alert_cases()
    for name in alert_names(source_rule()):
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in mine), f"{name} never fires in {ALERTS_TEST.name}"
        assert any(not c["exp_alerts"] for c in mine), f"{name} is never silent"
    severities = {
        alert["exp_labels"]["severity"]
        for c in cases
        if c["alertname"] == "VsiWebhookCertificateExpiry"
        for alert in c["exp_alerts"]
    }
    assert severities == {"warning", "critical"}


def _with_expr(name: str, expr: str) -> Obj:
    rule = copy.deepcopy(source_rule())
    changed = 0
    for each in rules(rule):
        if each.get("alert") == name:
            each["expr"] = expr
            changed += 1
    assert changed
    return rule


@pytest.mark.parametrize("name", alert_names(source_rule()))
def test_an_alert_that_never_fires_fails_the_unit_tests(name: str, tmp_path: Path) -> None:
    code, output = unit_test(_with_expr(name, "vector(1) < 0"), tmp_path, name)
    assert code != 0
    assert f"alertname: {name}," in output


@pytest.mark.parametrize("name", alert_names(source_rule()))
def test_an_alert_that_always_fires_fails_the_unit_tests(name: str, tmp_path: Path) -> None:
    code, output = unit_test(_with_expr(name, "vector(1)"), tmp_path, name)
    assert code != 0
    assert f"alertname: {name}," in output
