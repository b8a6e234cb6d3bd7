"""The rules, the dashboard and the promtool inputs use only what the webhook really exports.

A real `vsi-webhook serve` process (real HTTPS, its own certificate and profiles files) is driven
through the events the alerts watch (reviews, refused requests, a refused profiles file, a refused
then renewed certificate) and scraped. Every metric name in a rule, a dashboard query or a
variable must then be one it exports (a histogram as ``_bucket``, ``_sum``, ``_count``; a counter
as ``_total``), one of kube-state-metrics' (the table below), or Prometheus' ``up``; every label a
rule selects on must be one the series carries, with a value the webhook exports or documents.
The input series of alerts_test.yaml must carry exactly the labels of the scrape, plus the
ServiceMonitor's target labels, so the names and shapes cannot drift.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from certs.generate import generate
from tests.integration.manifests.conftest import MANIFESTS, REPO, Obj, find, kustomize
from tests.integration.monitoring.conftest import (
    ALERTS_TEST,
    TARGET_LABELS,
    as_promql,
    dashboard_queries,
    rules,
    selectors,
    source_dashboard,
    source_rule,
)
from tests.integration.webhook.helpers import NAMESPACE, SERVICE, SNI, client_context, wait_for
from tests.integration.webhook.process import webhook_process
from webhook.core import constants as c

KSM_JOB_LABELS = frozenset({"job", "instance"})
"""Target labels of kube-state-metrics' series (its namespace and pod labels win: honorLabels)."""
KSM = {
    "kube_pod_created": {"namespace", "pod", "uid"},
    "kube_pod_labels": {"namespace", "pod", "uid", "label_*"},
    "kube_pod_container_info": {
        *("namespace", "pod", "uid", "container", "image", "image_id", "image_spec"),
        "container_id",
    },
    "kube_pod_status_ready": {"namespace", "pod", "uid", "condition"},
    "kube_namespace_labels": {"namespace", "label_*"},
    "kube_pod_init_container_status_terminated_reason": {
        *("namespace", "pod", "uid", "container", "reason"),
    },
    "kube_pod_init_container_status_last_terminated_reason": {
        *("namespace", "pod", "uid", "container", "reason"),
    },
    "kube_pod_init_container_status_ready": {"namespace", "pod", "uid", "container"},
    "kube_pod_init_container_status_restarts_total": {"namespace", "pod", "uid", "container"},
}
"""kube-state-metrics' metrics the rules and the dashboard read, with their labels (from its
docs/metrics/workload/pod-metrics.md and namespace-metrics.md; ``label_*`` is the allowlist's)."""
UP_LABELS = frozenset({"job", *TARGET_LABELS})
GOLDEN = REPO / "tests" / "golden"
RELOAD_DEADLINE = 15.0


@dataclass(frozen=True)
class Scrape:
    """What one real webhook exported: sample names, and label names per sample name."""

    families: dict[str, str]
    """Family name -> type (counter families without ``_total``, as the parser names them)."""
    labels: dict[str, frozenset[str]]
    """Sample name -> its label names, for every sample seen."""
    values: dict[tuple[str, str], set[str]]
    """(sample name, label) -> the values seen."""

    def names(self) -> set[str]:
        """Every sample name the webhook exports, also of families that have no sample yet."""
        found = set(self.labels)
        for family, kind in self.families.items():
            if kind == "counter":
                found.add(f"{family}_total")
            elif kind == "histogram":
                found |= {f"{family}_bucket", f"{family}_sum", f"{family}_count"}
            else:
                found.add(family)
        return found


async def _post(session: aiohttp.ClientSession, url: str, body: bytes, ctype: str) -> int:
    async with session.post(
        url, data=body, headers={"Content-Type": ctype}, server_hostname=SNI
    ) as resp:
        await resp.read()
        return resp.status


async def _metrics(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url, server_hostname=SNI) as resp:
        assert resp.status == 200
        return await resp.text()


async def _drive_and_scrape(tmp: Path) -> str:
    """Start the webhook, make it count what the alerts watch, and return its /metrics."""
    files = generate(tmp / "tls", SERVICE, NAMESPACE).files
    config = tmp / "config.yaml"
    shutil.copy(MANIFESTS / "base" / "config.yaml", config)
    async with webhook_process(
        *("--tls-cert", str(files.tls_cert), "--tls-key", str(files.tls_key)),
        *("--config", str(config), "--reload-interval", "0.2"),
        dev=False,
    ) as server:
        base = f"https://127.0.0.1:{server.port}"
        connector = aiohttp.TCPConnector(ssl=client_context(files.ca_cert))
        async with aiohttp.ClientSession(connector=connector) as session:
            for case in ("portworx-daemonset", "opted-out"):
                body = (GOLDEN / case / "request.json").read_bytes()
                assert await _post(session, f"{base}/mutate", body, "application/json") == 200
            assert await _post(session, f"{base}/mutate", b"{no", "application/json") == 400
            async with session.get(f"{base}/mutate", server_hostname=SNI) as resp:
                assert resp.status == 405

            async def shows(text: str) -> bool:
                return text in await _metrics(session, f"{base}/metrics")

            insecure = GOLDEN / "volume-keys-pod-insecure"
            config.write_text((insecure / "config.yaml").read_text())
            await wait_for(
                lambda: shows('vsi_webhook_config_reloads_total{result="success"} 1.0'),
                timeout=RELOAD_DEADLINE,
                what="the profiles that allow an insecure connection",
            )
            body = (insecure / "request.json").read_bytes()
            assert await _post(session, f"{base}/mutate", body, "application/json") == 200
            config.write_text("profiles: [\n")
            await wait_for(
                lambda: shows("vsi_webhook_config_last_reload_success 0.0"),
                timeout=RELOAD_DEADLINE,
                what="the refused profiles file",
            )
            files.tls_key.write_text("not a key\n")
            await wait_for(
                lambda: shows('vsi_webhook_certificate_reloads_total{result="failure"} 1.0'),
                timeout=RELOAD_DEADLINE,
                what="the refused certificate",
            )
            generate(tmp / "tls", SERVICE, NAMESPACE, rotate=True)
            await wait_for(
                lambda: shows('vsi_webhook_certificate_reloads_total{result="success"} 1.0'),
                timeout=RELOAD_DEADLINE,
                what="the renewed certificate",
            )
            return await _metrics(session, f"{base}/metrics")


@pytest.fixture(scope="module")
def scrape(tmp_path_factory: pytest.TempPathFactory) -> Scrape:
    text = asyncio.run(_drive_and_scrape(tmp_path_factory.mktemp("webhook")))
    families: dict[str, str] = {}
    labels: dict[str, frozenset[str]] = {}
    values: dict[tuple[str, str], set[str]] = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = family.type
        for sample in family.samples:
            labels[sample.name] = frozenset(sample.labels)
            for label, value in sample.labels.items():
                values.setdefault((sample.name, label), set()).add(value)
    return Scrape(families, labels, values)


def rule_exprs() -> list[str]:
    return [r["expr"] for r in rules(source_rule())]


def used_names() -> set[str]:
    exprs = rule_exprs() + [as_promql(q) for q in dashboard_queries(source_dashboard())]
    return {name for expr in exprs for name, _ in selectors(expr)}


def test_the_scrape_has_every_series_the_drive_made(scrape: Scrape) -> None:
    """The drive worked: without these samples the checks below would check little."""
    seen = scrape.values
    assert seen[("vsi_webhook_reviews_total", "outcome")] == {"mutated", "skipped"}
    assert seen[("vsi_webhook_bad_requests_total", "reason")] == {"not-json", "method-not-allowed"}
    assert seen[("vsi_webhook_config_reloads_total", "result")] == {"success", "failure"}
    assert seen[("vsi_webhook_insecure_mutations_total", "profile")] == {"volume-keys"}
    assert seen[("vsi_webhook_certificate_reloads_total", "result")] == {"failure", "success"}
    assert scrape.labels["vsi_webhook_review_duration_seconds_bucket"] == {"le"}


def test_every_metric_the_rules_and_the_dashboard_use_is_exported(scrape: Scrape) -> None:
    exported = scrape.names()
    for name in sorted(used_names()):
        if name.startswith("vsi_webhook_"):
            assert name in exported, f"{name} is not exported by vsi-webhook serve"
        else:
            assert name in KSM or name == "up", f"{name}: neither the webhook's nor known"


def test_the_dashboard_shows_every_metric_the_webhook_exports(scrape: Scrape) -> None:
    shown = {as_promql(q) for q in dashboard_queries(source_dashboard())}
    used = {name for expr in shown for name, _ in selectors(expr)}
    for family, kind in scrape.families.items():
        if not family.startswith("vsi_webhook_") or family.endswith("_created"):
            continue
        forms = {
            "counter": {f"{family}_total"},
            "histogram": {f"{family}_bucket", f"{family}_count"},
        }.get(kind, {family})
        assert forms & used, f"the dashboard has no panel for {family}"


def _label_names(name: str, scrape: Scrape) -> frozenset[str]:
    """The labels a series of ``name`` carries in Prometheus (the scrape's plus the target's)."""
    if name.startswith("vsi_webhook_"):
        assert name in scrape.labels, f"the drive made no {name} sample to compare with"
        return scrape.labels[name] | TARGET_LABELS | {"job"}
    if name == "up":
        return UP_LABELS
    return frozenset(KSM[name]) | KSM_JOB_LABELS


def _matches(label: str, names: frozenset[str]) -> bool:
    return label in names or (label.startswith("label_") and "label_*" in names)


def test_every_label_a_rule_selects_on_is_one_the_series_carries(scrape: Scrape) -> None:
    for expr in rule_exprs() + [as_promql(q) for q in dashboard_queries(source_dashboard())]:
        for name, matchers in selectors(expr):
            names = _label_names(name, scrape)
            for label in matchers:
                if label != "__name__":
                    assert _matches(label, names), f"{name} has no label {label}: {expr}"


def _documented_values() -> set[str]:
    """Every backquoted word of docs/server.md: the outcomes, results and reasons it lists."""
    return set(re.findall(r"`([a-z][a-z-]*)`", (REPO / "docs" / "server.md").read_text()))


def test_every_webhook_label_value_a_rule_selects_is_exported_or_documented(
    scrape: Scrape,
) -> None:
    documented = _documented_values()
    checked = 0
    for expr in rule_exprs():
        for name, matchers in selectors(expr):
            if not name.startswith("vsi_webhook_"):
                continue
            for label, value in matchers.items():
                seen = scrape.values.get((name, label), set())
                for alternative in value.split("|"):
                    assert alternative in seen | documented, f"{name}{{{label}={alternative!r}}}"
                    checked += 1
    assert checked >= 8


def test_the_kube_state_metrics_selectors_name_what_the_webhook_injects() -> None:
    """container="vsi-injector", app=rook-ceph-osd, the portworx container and the opt-in label
    are the webhook's own constants; the job is the Service name the ServiceMonitor uses."""
    expected = {
        (
            "kube_pod_init_container_status_terminated_reason",
            "container",
        ): c.INJECTOR_CONTAINER_NAME,
        ("kube_pod_init_container_status_last_terminated_reason", "container"): (
            c.INJECTOR_CONTAINER_NAME
        ),
        ("kube_pod_init_container_status_ready", "container"): c.INJECTOR_CONTAINER_NAME,
        ("kube_pod_container_info", "container"): c.PORTWORX_CONTAINER,
        (
            "kube_pod_labels",
            "label_" + re.sub(r"[^A-Za-z0-9]", "_", c.ROOK_APP_LABEL),
        ): c.ROOK_OSD_APP,
        (
            "kube_namespace_labels",
            "label_" + re.sub(r"[^A-Za-z0-9]", "_", c.LABEL_ENABLED),
        ): c.ENABLED_VALUE,
    }
    service = find(kustomize(MANIFESTS / "base"), "Service", "vault-storage-injector")
    found: dict[tuple[str, str], str] = {}
    jobs = set()
    for expr in rule_exprs():
        for name, matchers in selectors(expr):
            for label, value in matchers.items():
                if (name, label) in expected:
                    found[(name, label)] = value
                if label == "job":
                    jobs.add(value)
    assert found == expected
    assert jobs == {service["metadata"]["name"]}


def _input_series() -> list[tuple[str, frozenset[str]]]:
    suite = yaml.safe_load(ALERTS_TEST.read_text())
    found = []
    for test in suite["tests"]:
        for series in test["input_series"]:
            expr = promql_parser.parse(series["series"])
            assert isinstance(expr, promql_parser.VectorSelector), series["series"]
            labels = frozenset(m.name for m in expr.matchers.matchers)
            assert expr.name, series["series"]
            found.append((expr.name, labels))
    return found


def test_the_promtool_inputs_are_shaped_like_the_real_series(scrape: Scrape) -> None:
    inputs = _input_series()
    assert len(inputs) > 40
    for name, labels in inputs:
        expected = _label_names(name, scrape)
        if name.startswith("vsi_webhook_") or name == "up":
            assert labels == expected, f"{name}: {sorted(labels)} != {sorted(expected)}"
        else:
            plain = {label for label in labels if not label.startswith("label_")}
            wanted = {label for label in expected if label != "label_*"}
            assert plain == wanted, f"{name}: {sorted(labels)} != {sorted(expected)}"


def test_the_dashboard_and_rules_parse_as_promql() -> None:
    """Grafana's own variables aside, every query is PromQL that Prometheus' grammar accepts."""
    queries = [as_promql(q) for q in dashboard_queries(source_dashboard())] + rule_exprs()
    for query in queries:
        promql_parser.parse(query)
    assert len(queries) > 20
    assert json.loads(orjson.dumps(source_dashboard()))  # a JSON document, nothing else
    rule: Obj = source_rule()
    assert rule["kind"] == "PrometheusRule"
