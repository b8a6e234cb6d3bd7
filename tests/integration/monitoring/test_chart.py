"""The chart's monitoring values render the kustomize component's objects, from the same files.

With every monitoring value on, `helm template` gives exactly what manifests/examples/monitoring
builds (Helm's labels aside, the dashboard compared as JSON). The chart's own changes are pinned:
the job named after its Service, runbook_url on runbookBaseURL, disabled alerts, additional rules,
labels, the dashboard's namespace and timeout. The PrometheusRule is a custom resource that
kubernetes-validate has no schema for: its shape is checked against the operator's Rule fields
here and its rules by promtool; the dashboard ConfigMap validates strictly.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.charts.conftest import HELMS, key_named, refused, release_objects, render
from tests.integration.charts.test_one_source import differences
from tests.integration.manifests.conftest import Obj, find, kustomize, validate_strictly
from tests.integration.monitoring.conftest import (
    ALL_ON,
    DASHBOARD_KEY,
    EXAMPLE,
    RUNBOOK_BASE,
    alert_names,
    dashboard_configmap,
    only,
    rules,
    run_promtool,
    selectors,
    source_dashboard,
    source_rule,
    write_rules,
)

RULE_FIELDS = frozenset(
    {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
)
"""The fields of a Rule in monitoring.coreos.com/v1 PrometheusRule (and a Prometheus rules file)."""
ANNOTATIONS = frozenset({"summary", "description", "runbook_url"})
SEVERITIES = frozenset({"warning", "critical"})


def _dashboard_parsed(objects: list[Obj]) -> list[Obj]:
    """``objects`` with the dashboard's JSON parsed (the chart writes it with sorted keys)."""
    out = copy.deepcopy(objects)
    cm = dashboard_configmap(out)
    cm["data"][DASHBOARD_KEY] = json.loads(cm["data"][DASHBOARD_KEY])
    return out


def test_the_chart_renders_what_the_kustomize_example_builds(chart_objects: list[Obj]) -> None:
    found = differences(
        _dashboard_parsed(release_objects(chart_objects)),
        _dashboard_parsed(kustomize(EXAMPLE)),
    )
    assert not found, "\n\n".join(found)


def test_a_changed_rules_file_would_be_reported(chart_objects: list[Obj]) -> None:
    """The comparison above bites: a rule that differs in one field is a difference."""
    theirs = kustomize(EXAMPLE)
    changed = copy.deepcopy(theirs)
    only(changed, "PrometheusRule")["spec"]["groups"][0]["rules"][0]["for"] = "2h"
    ours = _dashboard_parsed(release_objects(chart_objects))
    found = differences(ours, _dashboard_parsed(changed))
    assert len(found) == 1
    assert found[0].startswith("PrometheusRule/vault-storage-injector/vault-storage-injector")


def test_nothing_of_it_renders_by_default() -> None:
    kinds = {o["kind"] for o in render()}
    assert not kinds & {"PrometheusRule", "ServiceMonitor"}
    assert not [o for o in render() if DASHBOARD_KEY in o.get("data", {})]


def _check_rule_shape(rule: Obj, namespace: str) -> None:
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(rule) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(rule["metadata"]) <= {"name", "namespace", "labels", "annotations"}
    assert rule["metadata"]["namespace"] == namespace
    assert set(rule["spec"]) == {"groups"}
    names = [g["name"] for g in rule["spec"]["groups"]]
    assert len(names) == len(set(names)), "group names must be unique"
    for group in rule["spec"]["groups"]:
        assert set(group) == {"name", "rules"}, group["name"]
        assert group["rules"], f"{group['name']}: an empty group"
        for each in group["rules"]:
            where = each.get("alert") or each.get("record")
            assert set(each) <= RULE_FIELDS, f"{where}: unknown fields {set(each) - RULE_FIELDS}"
            assert isinstance(each["expr"], str), where
            assert each["expr"].strip(), where
            if "alert" in each and not group["name"].endswith(".additional"):
                assert set(each["annotations"]) == ANNOTATIONS, where
                assert each["labels"]["severity"] in SEVERITIES, where


@pytest.mark.parametrize("binary", HELMS)
def test_the_prometheus_rule_has_the_operators_shape_in_both_renders(binary: str) -> None:
    chart = only(render(ALL_ON, binary=binary), "PrometheusRule")
    _check_rule_shape(chart, "vault-storage-injector")
    _check_rule_shape(only(kustomize(EXAMPLE), "PrometheusRule"), "vault-storage-injector")
    assert chart["spec"]["groups"] == source_rule()["spec"]["groups"]


def test_the_dashboard_configmap_validates_strictly_and_carries_the_sidecar_label(
    chart_objects: list[Obj],
) -> None:
    for objects, where in ((chart_objects, "chart"), (kustomize(EXAMPLE), "kustomize")):
        cm = dashboard_configmap(objects)
        validate_strictly(cm, f"{where}: ConfigMap/{cm['metadata']['name']}", frozenset())
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["name"] == "vault-storage-injector-dashboard"
        assert json.loads(cm["data"][DASHBOARD_KEY]) == source_dashboard()


def _jobs(rule: Obj) -> set[str]:
    return {m["job"] for r in rules(rule) for _, m in selectors(r["expr"]) if "job" in m}


def test_another_release_name_selects_its_own_service_as_the_job(tmp_path: Path) -> None:
    objects = render(ALL_ON, release="storage", namespace="storage-system")
    rule = only(objects, "PrometheusRule")
    service = find(objects, "Service", "storage-vault-storage-injector")
    monitor = only(objects, "ServiceMonitor")
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["storage-system"]}
    assert _jobs(rule) == {service["metadata"]["name"]}
    assert _jobs(source_rule()) == {"vault-storage-injector"}
    result = run_promtool("check", "rules", str(write_rules(rule, tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_runbook_urls_keep_their_anchor_on_the_base_given() -> None:
    base = "https://wiki.example.com/storage/vsi-operations"
    values: dict[str, Any] = copy.deepcopy(ALL_ON)
    values["metrics"]["prometheusRule"]["runbookBaseURL"] = base
    rule = only(render(values), "PrometheusRule")
    source = [r["annotations"]["runbook_url"] for r in rules(source_rule())]
    assert all(url.startswith(RUNBOOK_BASE + "#") for url in source)
    got = [r["annotations"]["runbook_url"] for r in rules(rule)]
    assert got == [url.replace(RUNBOOK_BASE, base) for url in source]


def test_disabled_alerts_are_left_out_and_additional_rules_come_last(tmp_path: Path) -> None:
    extra = [
        {"record": "vsi:reviews:rate5m", "expr": "sum(rate(vsi_webhook_reviews_total[5m]))"},
        {
            "alert": "VsiWebhookSlowReviews",
            "expr": "histogram_quantile(0.99, sum by (le) "
            "(rate(vsi_webhook_review_duration_seconds_bucket[5m]))) > 1",
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {"summary": "Reviews take over a second."},
        },
    ]
    values: dict[str, Any] = copy.deepcopy(ALL_ON)
    values["metrics"]["prometheusRule"].update(
        disabled=["VsiWebhookNoReviews", "VsiInjectorFailing"],
        additionalRules=extra,
        labels={"release": "kube-prometheus-stack"},
    )
    rule = only(render(values), "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    names = alert_names(rule)
    expected = [
        n
        for n in alert_names(source_rule())
        if n not in {"VsiWebhookNoReviews", "VsiInjectorFailing"}
    ]
    assert names == [*expected, "VsiWebhookSlowReviews"]
    groups = rule["spec"]["groups"]
    assert [g["name"] for g in groups] == [
        "vault-storage-injector.webhook",
        "vault-storage-injector.additional",
    ]  # the injector's group had one alert, now left out: no empty group
    assert groups[-1]["rules"] == extra
    _check_rule_shape(rule, "vault-storage-injector")
    result = run_promtool("check", "rules", str(write_rules(rule, tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("binary", HELMS)
def test_an_unknown_alert_to_disable_fails_the_render_naming_it(binary: str) -> None:
    values: dict[str, Any] = copy.deepcopy(ALL_ON)
    values["metrics"]["prometheusRule"]["disabled"] = ["VsiWebhookCertExpiry"]
    message = refused(values, binary=binary)
    assert 'metrics.prometheusRule.disabled: "VsiWebhookCertExpiry" is not an alert' in message
    assert "VsiWebhookCertificateExpiry" in message


def test_the_dashboard_goes_where_told_with_the_chart_timeout() -> None:
    values: dict[str, Any] = copy.deepcopy(ALL_ON)
    values["metrics"]["dashboard"].update(
        namespace="monitoring",
        labels={"team": "storage"},
        annotations={"grafana_folder": "Storage"},
    )
    values["timeoutSeconds"] = 10
    cm = dashboard_configmap(render(values))
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["team"] == "storage"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Storage"}
    dashboard = json.loads(cm["data"][DASHBOARD_KEY])
    (timeout,) = [v for v in dashboard["templating"]["list"] if v["name"] == "timeout"]
    assert timeout["query"] == "10"
    assert timeout["current"] == {"text": "10", "value": "10"}
    expected = source_dashboard()
    for variable in expected["templating"]["list"]:
        if variable["name"] == "timeout":
            variable.update(query="10", current={"text": "10", "value": "10"})
    assert dashboard == expected


def test_the_dashboard_timeout_is_the_one_kustomize_and_the_chart_configure() -> None:
    """The file's default is the timeoutSeconds of every entry of the base's configuration, and
    of the chart's default values."""
    (timeout,) = [v for v in source_dashboard()["templating"]["list"] if v["name"] == "timeout"]
    for objects in (kustomize(EXAMPLE), render()):
        config = only(objects, "MutatingWebhookConfiguration")
        assert {str(hook["timeoutSeconds"]) for hook in config["webhooks"]} == {timeout["query"]}


BAD_VALUES = {
    "metrics.prometheusRule.enabeld": {"prometheusRule": {"enabeld": True}},
    "metrics.prometheusRule.runbookBaseURL": {"prometheusRule": {"runbookBaseURL": "docs#x"}},
    "metrics.prometheusRule.additionalRules.0": {
        "prometheusRule": {"additionalRules": [{"alert": "X"}]}
    },
    "metrics.prometheusRule.additionalRules.1": {
        "prometheusRule": {
            "additionalRules": [
                {"alert": "X", "expr": "up == 0"},
                {"alert": "Y", "record": "y", "expr": "up"},
            ]
        }
    },
    "metrics.prometheusRule.labels.team": {"prometheusRule": {"labels": {"team": "a b"}}},
    "metrics.dashboard.namespace": {"dashboard": {"namespace": "Monitoring"}},
    "metrics.dashboard.labels": {"dashboard": {"labels": []}},
}


@pytest.mark.parametrize("binary", HELMS)
@pytest.mark.parametrize("path", BAD_VALUES)
def test_the_schema_refuses_bad_monitoring_values_naming_the_key(path: str, binary: str) -> None:
    message = refused({"metrics": BAD_VALUES[path]}, binary=binary)
    assert key_named(message, path), message
