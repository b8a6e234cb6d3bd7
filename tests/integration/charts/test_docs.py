"""docs/install.md and the chart README name real chart files and the chart's real objects."""

from __future__ import annotations

import re

from tests.integration.charts.conftest import CHART, find, release_objects, render
from tests.integration.manifests.conftest import REPO

INSTALL = (REPO / "docs" / "install.md").read_text()
README = (CHART / "README.md").read_text()


def test_every_chart_path_in_the_docs_exists() -> None:
    for text in (INSTALL, README, (REPO / "README.md").read_text()):
        for path in set(re.findall(r"\bcharts/[\w./-]*\w", text)):
            assert (REPO / path).exists(), path
    for path in set(re.findall(r"\bexamples/[\w-]+-values\.yaml", INSTALL + README)):
        assert (CHART / path).is_file(), path


def test_helm_uninstall_deletes_the_webhook_configuration_first() -> None:
    section = INSTALL.split("### helm uninstall", 1)[1].split("\n### ", 1)[0]
    commands = re.findall(r"^(?:kubectl|helm) .*$", section, re.M)
    assert commands[0] == "kubectl delete mutatingwebhookconfiguration vault-storage-injector"
    assert commands[1].startswith("helm uninstall vault-storage-injector")


def test_the_documented_objects_are_the_charts() -> None:
    objects = render()
    find(release_objects(objects), "MutatingWebhookConfiguration", "vault-storage-injector")
    find(objects, "Pod", "vault-storage-injector-doctor")
    deployment = find(objects, "Deployment", "vault-storage-injector")
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    (tls,) = [v for v in volumes if v["name"] == "tls"]
    assert f"delete secret {tls['secret']['secretName']}" in INSTALL
    # What a failed helm test leaves behind, each under the name the cleanup commands use.
    doctor = "vault-storage-injector-doctor"
    for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding"):
        find(objects, kind, doctor)
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] == "Role"} >= {
        "vault-storage-injector"
    }
    assert f"delete pod,serviceaccount,role,rolebinding {doctor}" in INSTALL
    assert f"kubectl delete clusterrole,clusterrolebinding {doctor}" in INSTALL
    find(objects, "CronJob", "vault-storage-injector-certs-rotate")
    assert "cronjob/<name>-certs-rotate" in README
