"""The Grafana dashboard is one valid JSON document whose every panel queries Prometheus.

What a panel shows is pinned by its query, not its title: reviews by kind and outcome, the
latency quantiles against the `timeout` variable, errors and refusals by reason, the
certificate's days left, both reloads, connections held and refused, and kube-state-metrics'
view of the injectors. test_names.py checks that the names in those queries are exported.
"""

from __future__ import annotations

import json

from tests.integration.manifests.conftest import Obj
from tests.integration.monitoring.conftest import (
    DASHBOARD_SOURCE,
    as_promql,
    dashboard_queries,
    panels,
    selectors,
    source_dashboard,
)

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _queries(dashboard: Obj) -> dict[str, list[str]]:
    """Panel title -> its queries."""
    return {
        p["title"]: [t["expr"] for t in p.get("targets", [])]
        for p in panels(dashboard)
        if p["type"] != "row"
    }


def test_the_file_is_one_json_object_with_a_stable_uid() -> None:
    dashboard = json.loads(DASHBOARD_SOURCE.read_text())
    assert isinstance(dashboard, dict)
    assert dashboard["uid"] == "vault-storage-injector"
    assert dashboard["title"] == "vault-storage-injector"
    assert isinstance(dashboard["schemaVersion"], int)
    assert "id" not in dashboard  # Grafana assigns it; a fixed one clashes across instances


def test_every_panel_has_a_query_on_the_chosen_prometheus() -> None:
    dashboard = source_dashboard()
    found = [p for p in panels(dashboard) if p["type"] != "row"]
    assert len(found) >= 12
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in found:
        targets = panel.get("targets", [])
        assert targets, f"{panel['title']}: no query"
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel.get("description"), f"{panel['title']}: no description"
        refs = [t["refId"] for t in targets]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in targets:
            assert target["expr"].strip(), f"{panel['title']}: an empty query"
            assert target["datasource"] == DATASOURCE, panel["title"]
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]


def test_the_variables_pick_the_datasource_the_webhook_and_its_timeout() -> None:
    variables = {v["name"]: v for v in source_dashboard()["templating"]["list"]}
    assert set(variables) == {"datasource", "namespace", "job", "timeout"}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["timeout"]["type"] == "textbox"
    assert len(dashboard_queries(source_dashboard())) == len(_all_targets()) + 2


def _all_targets() -> list[str]:
    return [q for qs in _queries(source_dashboard()).values() for q in qs]


def _panel_using(metric: str, *, by: str | None = None) -> list[str]:
    """Titles of the panels with a query on ``metric`` (aggregated ``by`` those labels)."""
    titles = []
    for title, queries in _queries(source_dashboard()).items():
        for query in queries:
            names = {name for name, _ in selectors(as_promql(query))}
            if metric in names and (by is None or f"by ({by})" in query):
                titles.append(title)
                break
    return titles


def test_the_panels_the_issue_asks_for_are_there() -> None:
    assert _panel_using("vsi_webhook_reviews_total", by="kind, outcome")
    assert _panel_using("vsi_webhook_reviews_total", by="reason")
    assert _panel_using("vsi_webhook_bad_requests_total", by="reason")
    assert _panel_using("vsi_webhook_certificate_expiry_timestamp_seconds")
    assert _panel_using("vsi_webhook_certificate_reloads_total", by="result")
    assert _panel_using("vsi_webhook_config_reloads_total", by="result")
    assert _panel_using("vsi_webhook_connections")
    assert _panel_using("vsi_webhook_connections_refused_total", by="listener, reason")
    assert _panel_using("kube_pod_init_container_status_last_terminated_reason")
    assert _panel_using("kube_pod_init_container_status_restarts_total")
    (latency,) = _panel_using("vsi_webhook_review_duration_seconds_bucket")
    queries = _queries(source_dashboard())[latency]
    assert [q.split(",")[0] for q in queries[:3]] == [
        "histogram_quantile(0.5",
        "histogram_quantile(0.9",
        "histogram_quantile(0.99",
    ]
    assert "vector($timeout)" in queries
