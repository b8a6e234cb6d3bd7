"""The monitoring objects as the chart and kustomize render them, promtool, and PromQL names.

`promtool` is Debian's (package `prometheus`, which `make test` unpacks into .venv/bin); a
missing one fails the test with what to do, it never skips it. Metric names are read from the
PromQL syntax tree (`promql_parser`, Prometheus' grammar), never with a regular expression.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.integration.charts.conftest import render
from tests.integration.manifests.conftest import MANIFESTS, REPO, Obj, kustomize

COMPONENT = MANIFESTS / "components" / "monitoring"
SHARED = COMPONENT / "shared"
RULES_SOURCE = SHARED / "prometheusrule.yaml"
DASHBOARD_SOURCE = SHARED / "dashboard.json"
DASHBOARD_KEY = "vault-storage-injector.json"
"""The ConfigMap key that holds the dashboard, in the chart and in kustomize."""
EXAMPLE = MANIFESTS / "examples" / "monitoring"
HERE = Path(__file__).resolve().parent
ALERTS_TEST = HERE / "alerts_test.yaml"
OPERATIONS = REPO / "docs" / "operations.md"
RUNBOOK_BASE = (
    "https://github.com/vault-storage-injector/vault-storage-injector/blob/main/docs/operations.md"
)
"""Where every runbook_url of the rules file points by default."""
ALL_ON = {
    "metrics": {
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "dashboard": {"enabled": True},
    }
}
"""Chart values that render everything the monitoring component holds."""
TARGET_LABELS = frozenset({"namespace", "service", "endpoint", "container", "pod", "instance"})
"""Labels a ServiceMonitor's target adds to every scraped series, besides ``job``."""
GRAFANA_INTERVALS = ("$__rate_interval", "$__interval", "$__range")


def promtool() -> str:
    """Debian's promtool: the one `make test` puts in .venv/bin, else one on PATH.

    A missing one fails the test with what to do.
    """
    beside = Path(sys.executable).parent / "promtool"
    found = str(beside) if beside.exists() else shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool is missing: `make .venv/bin/promtool` unpacks it from Debian's prometheus "
            "package",
            pytrace=False,
        )
    return found


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, check=False, cwd=cwd, timeout=120
    )


def only(objects: list[Obj], kind: str) -> Obj:
    hits = [o for o in objects if o["kind"] == kind]
    assert len(hits) == 1, f"expected one {kind}, found {len(hits)}"
    return hits[0]


def dashboard_configmap(objects: list[Obj]) -> Obj:
    hits = [o for o in objects if o["kind"] == "ConfigMap" and DASHBOARD_KEY in o.get("data", {})]
    assert len(hits) == 1, f"expected one dashboard ConfigMap, found {len(hits)}"
    return hits[0]


def write_rules(rule: Obj, directory: Path) -> Path:
    """The PrometheusRule's groups as a Prometheus rules file, as the operator hands it over."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


def rules(rule: Obj) -> Iterator[Obj]:
    for group in rule["spec"]["groups"]:
        yield from group["rules"]


def alert_names(rule: Obj) -> list[str]:
    """Every alert name, once, in file order."""
    return list(dict.fromkeys(r["alert"] for r in rules(rule) if "alert" in r))


def source_rule() -> Obj:
    loaded: Obj = yaml.safe_load(RULES_SOURCE.read_text())
    return loaded


def source_dashboard() -> Obj:
    loaded: Obj = json.loads(DASHBOARD_SOURCE.read_text())
    return loaded


def panels(dashboard: Obj) -> Iterator[Obj]:
    """Every panel, those inside collapsed rows too."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries(dashboard: Obj) -> list[str]:
    """The PromQL of every panel target and of every query variable (its label_values metric)."""
    found = [t["expr"] for p in panels(dashboard) for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
            assert inner, f"variable {variable['name']}: not label_values(<selector>, <label>)"
            found.append(inner.group(1))
    return found


def as_promql(query: str) -> str:
    """A Grafana query as PromQL: range variables become 5m, other variables a number."""
    for interval in GRAFANA_INTERVALS:
        query = query.replace(interval, "5m")
    return re.sub(r"\$\{?\w+\}?", "1", query)


def selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """``(metric name, {label: value of = and =~ matchers})`` of every vector selector."""
    found: list[tuple[str, dict[str, str]]] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = {m.name: m.value for m in node.matchers.matchers}
            name = node.name or matchers.get("__name__")
            assert name, f"a selector without a metric name in {expr!r}"
            found.append((name, matchers))
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


@pytest.fixture(scope="session")
def chart_objects() -> list[Obj]:
    """The chart with the ServiceMonitor, the rules and the dashboard (default names)."""
    return render(ALL_ON)


@pytest.fixture(scope="session")
def kustomize_objects() -> list[Obj]:
    """The monitoring component as `kubectl kustomize` builds it on its own."""
    return kustomize(COMPONENT)
