"""cert-manager and Prometheus Operator objects, checked field by field (no schema for them here).

kubernetes-validate ships no schema for custom resources, so each field the chart sets is checked
against what cert-manager.io/v1 and monitoring.coreos.com/v1 define, with the values the webhook
needs: the Service's names, the Secret the Deployment mounts, the caBundle injected from that
Certificate, and no bootstrap Job, CronJob or bootstrap RBAC left behind.
"""

from __future__ import annotations

from typing import Any

from tests.integration.charts.conftest import find, kinds, render
from tests.integration.manifests.conftest import Obj, selector_matches

CERT_MANAGER = {"certManager": {"enabled": True}}
NAME = "vault-storage-injector"
NS = "vault-storage-injector"
DNS_NAMES = [NAME, f"{NAME}.{NS}", f"{NAME}.{NS}.svc", f"{NAME}.{NS}.svc.cluster.local"]

CERTIFICATE_SPEC_FIELDS = {
    "secretName",
    "commonName",
    "dnsNames",
    "duration",
    "renewBefore",
    "privateKey",
    "usages",
    "issuerRef",
    "isCA",
}
"""Fields of cert-manager.io/v1 Certificate spec that the chart uses (a subset of the CRD's)."""
USAGES = {"digital signature", "key encipherment", "server auth"}
"""cert-manager's KeyUsage names for a TLS server."""


def _only_keys(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    assert set(obj) <= allowed, f"{where}: unknown fields {set(obj) - allowed}"


def _check_custom_resource(obj: Obj, api_version: str) -> None:
    assert obj["apiVersion"] == api_version
    _only_keys(obj, {"apiVersion", "kind", "metadata", "spec"}, obj["kind"])
    _only_keys(obj["metadata"], {"name", "namespace", "labels", "annotations"}, obj["kind"])
    assert obj["metadata"]["namespace"] == NS


def _check_certificate(certificate: Obj) -> None:
    _check_custom_resource(certificate, "cert-manager.io/v1")
    spec = certificate["spec"]
    _only_keys(spec, CERTIFICATE_SPEC_FIELDS, certificate["metadata"]["name"])
    assert spec["privateKey"] == {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}
    assert set(spec["issuerRef"]) == {"group", "kind", "name"}
    assert spec["issuerRef"]["kind"] in {"Issuer", "ClusterIssuer"}
    for field in ("duration", "renewBefore"):
        assert spec[field].endswith("h")
        assert int(spec[field][:-1]) > 0


def test_the_serving_certificate_covers_the_service_and_fills_the_mounted_secret() -> None:
    objects = render(CERT_MANAGER)
    serving = find(objects, "Certificate", f"{NAME}-tls")
    _check_certificate(serving)
    spec = serving["spec"]
    assert spec["dnsNames"] == DNS_NAMES
    assert spec["commonName"] in DNS_NAMES
    assert set(spec["usages"]) == USAGES
    assert (spec["duration"], spec["renewBefore"]) == ("8760h", "720h")
    assert spec["issuerRef"] == {"group": "cert-manager.io", "kind": "Issuer", "name": f"{NAME}-ca"}
    service = find(objects, "Service")
    assert service["metadata"]["name"] == NAME
    deployment = find(objects, "Deployment")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == spec["secretName"]
    assert {i["key"] for i in volumes["tls"]["secret"]["items"]} == {"tls.crt", "tls.key"}


def test_the_caBundle_is_injected_from_that_certificate() -> None:
    objects = render(CERT_MANAGER)
    config = find(objects, "MutatingWebhookConfiguration")
    assert config["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": f"{NS}/{NAME}-tls"
    }
    for hook in config["webhooks"]:
        assert "caBundle" not in hook["clientConfig"]


def test_the_default_chain_is_a_self_signed_ca_of_the_release() -> None:
    objects = render(CERT_MANAGER)
    selfsigned = find(objects, "Issuer", f"{NAME}-selfsigned")
    _check_custom_resource(selfsigned, "cert-manager.io/v1")
    assert selfsigned["spec"] == {"selfSigned": {}}
    ca = find(objects, "Certificate", f"{NAME}-ca")
    _check_certificate(ca)
    assert ca["spec"]["isCA"] is True
    assert ca["spec"]["issuerRef"]["name"] == f"{NAME}-selfsigned"
    assert ca["spec"]["secretName"] == f"{NAME}-ca"
    ca_issuer = find(objects, "Issuer", f"{NAME}-ca")
    _check_custom_resource(ca_issuer, "cert-manager.io/v1")
    assert ca_issuer["spec"] == {"ca": {"secretName": f"{NAME}-ca"}}


def test_an_existing_issuer_replaces_the_chain() -> None:
    objects = render(
        {
            "certManager": {
                "enabled": True,
                "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"},
            }
        }
    )
    assert kinds(objects).count("Issuer") == 0
    (serving,) = [o for o in objects if o["kind"] == "Certificate"]
    assert serving["spec"]["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": "corp-ca",
    }


def test_no_bootstrap_job_cronjob_or_bootstrap_rbac_with_cert_manager() -> None:
    objects = render(CERT_MANAGER)
    assert not {"Job", "CronJob"} & set(kinds(objects))
    names = {o["metadata"]["name"] for o in objects}
    assert f"{NAME}-certs" not in names


def test_the_service_monitor_scrapes_the_metrics_port_of_the_service() -> None:
    objects = render({"metrics": {"serviceMonitor": {"enabled": True, "labels": {"team": "a"}}}})
    monitor = find(objects, "ServiceMonitor")
    _check_custom_resource(monitor, "monitoring.coreos.com/v1")
    assert monitor["metadata"]["labels"]["team"] == "a"
    spec = monitor["spec"]
    _only_keys(spec, {"namespaceSelector", "selector", "endpoints"}, "ServiceMonitor")
    assert spec["namespaceSelector"] == {"matchNames": [NS]}
    service = find(objects, "Service")
    assert selector_matches(spec["selector"], service["metadata"]["labels"])
    (endpoint,) = spec["endpoints"]
    assert endpoint == {
        "port": "metrics",
        "scheme": "http",
        "path": "/metrics",
        "interval": "30s",
        "scrapeTimeout": "10s",
    }
    assert "metrics" in {p["name"] for p in service["spec"]["ports"]}
    deployment = find(objects, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in container["ports"]
    assert "--metrics-port=9090" in container["args"]
