"""The chart lints strictly and renders, for every option and example, objects that validate.

Each case is rendered by Helm 4 and Helm 3, which must give the same objects; every object is
validated strictly against the 1.30 and the newest Kubernetes schemas that kubernetes-validate
ships. cert-manager's and Prometheus' kinds have no schema there: test_cert_manager.py checks
them field by field. Nothing is generated at template time: two renders are byte-identical and
no template calls a function that makes keys, certificates or random values.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from certs.errors import CertsError
from certs.plan import make_settings
from tests.integration.charts.conftest import (
    CHART,
    EXAMPLES,
    HELM3,
    HELM4,
    HELMS,
    find,
    helm,
    key_named,
    refused,
    release_objects,
    render,
    template_text,
)
from tests.integration.manifests.conftest import Obj, pod_templates, validate_strictly

NO_SCHEMA_KINDS = frozenset({"Certificate", "Issuer", "ServiceMonitor", "PrometheusRule"})
"""Custom resources kubernetes-validate has no schema for (checked field by field instead; the
PrometheusRule also by promtool, in tests/integration/monitoring)."""

DIGEST = "sha256:" + "ab" * 32
OPTIONS: dict[str, dict[str, Any]] = {
    "default": {},
    "cert-manager": {"certManager": {"enabled": True}},
    "cert-manager-issuer": {
        "certManager": {"enabled": True, "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}}
    },
    "networkpolicy": {
        "networkPolicy": {
            "enabled": True,
            "webhookFrom": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
        }
    },
    "servicemonitor": {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"team": "a"}}}},
    "monitoring": {
        "metrics": {
            "serviceMonitor": {"enabled": True},
            "prometheusRule": {"enabled": True, "labels": {"release": "kps"}},
            "dashboard": {"enabled": True, "annotations": {"grafana_folder": "Storage"}},
        }
    },
    "digest": {"image": {"repository": "registry.example.com/vsi", "digest": DIGEST}},
    "tag": {"image": {"tag": "0.1.0-rc1", "pullPolicy": "Always"}},
    "scheduling": {
        "replicaCount": 3,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "storage", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "infra", "operator": "Exists"}]}
                    ]
                }
            }
        },
        "priorityClassName": "system-cluster-critical",
        "podAnnotations": {"example.com/owner": "storage"},
        "imagePullSecrets": [{"name": "regcred"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}},
    },
    "pdb-max-unavailable": {"podDisruptionBudget": {"minAvailable": None, "maxUnavailable": 1}},
    "no-pdb": {"podDisruptionBudget": {"enabled": False}},
    "ignore": {
        "failurePolicy": "Ignore",
        "timeoutSeconds": 10,
        # Narrows the opt-in namespaces; the opt-in label stays.
        "namespaceSelector": {
            "matchLabels": {"team": "storage"},
            "matchExpressions": [{"key": "storage", "operator": "In", "values": ["ceph"]}],
        },
    },
    "profiles": {
        "builtinProfiles": False,
        "profiles": [{"name": "rook", "type": "rook-osd", "connection": {"secret": "rook-vault"}}],
        "injector": {"runAsUser": 1000, "resources": {"limits": {"memory": "64Mi"}}},
        "keyVolume": {"sizeLimit": "2Mi", "mountPath": "/var/run/keys"},
    },
    "secret-access": {"secretAccess": {"namespaces": ["rook-ceph", "portworx"]}},
    "certs": {"certs": {"schedule": "@weekly", "rotateBefore": 60}},
    "no-test": {"test": {"enabled": False}},
    "pods-only": {"workloads": {"mutate": False}},
    "test-vault": {"test": {"namespaces": ["rook-ceph"], "vault": True}},
}
EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.glob("*-values.yaml"))


def _render_case(case: str, binary: str) -> list[Obj]:
    if case in OPTIONS:
        return render(OPTIONS[case], binary=binary)
    return render(value_files=[EXAMPLES / case], binary=binary)


@pytest.mark.parametrize("binary", HELMS)
def test_helm_lint_strict_passes_for_the_defaults_and_every_example(binary: str) -> None:
    for values in [None, *EXAMPLE_FILES]:
        args = ["lint", "--strict", str(CHART)]
        if values:
            args += ["--values", str(EXAMPLES / values)]
        result = helm(*args, binary=binary)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 chart(s) failed" in result.stdout


def test_the_examples_are_found() -> None:
    assert EXAMPLE_FILES == ["portworx-values.yaml", "rook-kms-values.yaml", "rook-values.yaml"]


@pytest.mark.parametrize("case", [*OPTIONS, *EXAMPLE_FILES])
def test_every_rendered_object_validates_strictly(case: str) -> None:
    objects = _render_case(case, HELM4)
    assert objects
    for obj in objects:
        validate_strictly(obj, f"{case}: {obj['kind']}/{obj['metadata']['name']}", NO_SCHEMA_KINDS)


@pytest.mark.parametrize("case", [*OPTIONS, *EXAMPLE_FILES])
def test_helm_3_renders_the_same_objects_as_helm_4(case: str) -> None:
    """The same objects; the order of kinds Helm does not know (custom resources) differs."""
    assert sorted(_render_case(case, HELM3), key=_key) == sorted(
        _render_case(case, HELM4), key=_key
    )


def _key(obj: Obj) -> tuple[str, str, str]:
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


@pytest.mark.parametrize("case", [*OPTIONS, *EXAMPLE_FILES])
def test_every_pod_is_restricted_and_runs_the_one_image(case: str) -> None:
    objects = _render_case(case, HELM4)
    (config_map,) = [
        o for o in objects if o["kind"] == "ConfigMap" and "config.yaml" in o.get("data", {})
    ]
    injector_image = re.search(r"^  image: (\S+)$", config_map["data"]["config.yaml"], re.M)
    assert injector_image is not None
    for where, pod in pod_templates(objects):
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for container in pod["containers"]:
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["capabilities"] == {"drop": ["ALL"]}, where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert "memory" in container["resources"]["limits"], where
            if container["image"].startswith("ghcr.io/vault-storage-injector/") or case in {
                "digest",
                "tag",
            }:
                assert container["image"] == injector_image.group(1), where


def test_image_digest_and_tag_give_one_reference_everywhere() -> None:
    for values, expected in (
        ({}, "ghcr.io/vault-storage-injector/vault-storage-injector:0.1.0"),
        (OPTIONS["tag"], "ghcr.io/vault-storage-injector/vault-storage-injector:0.1.0-rc1"),
        (OPTIONS["digest"], f"registry.example.com/vsi@{DIGEST}"),
        (
            {"image": {"tag": "9.9.9", "digest": DIGEST}},
            f"ghcr.io/vault-storage-injector/vault-storage-injector@{DIGEST}",
        ),
    ):
        objects = render(values)
        images = {c["image"] for _, pod in pod_templates(objects) for c in pod["containers"]}
        config = find(objects, "ConfigMap")["data"]["config.yaml"]
        assert images == {expected}, values
        assert f"image: {expected}\n" in config, values
        policy = values.get("image", {}).get("pullPolicy", "IfNotPresent")
        assert f"imagePullPolicy: {policy}\n" in config


def test_the_default_tag_is_the_chart_app_version_and_the_package_version() -> None:
    chart = (CHART / "Chart.yaml").read_text()
    pyproject = (CHART.parents[1] / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"$', pyproject, re.M)
    assert version is not None
    assert f'appVersion: "{version.group(1)}"' in chart
    assert f"\nversion: {version.group(1)}\n" in chart
    assert re.search(r"^apiVersion: v2$", chart, re.M)
    assert 'kubeVersion: ">=1.30.0-0"' in chart


@pytest.mark.parametrize("binary", HELMS)
@pytest.mark.parametrize("labels", [{}, {"team": "storage"}])
def test_no_namespace_selector_drops_the_opt_in_label_the_webhook_requires(
    labels: dict[str, str], binary: str
) -> None:
    """The webhook skips every namespace without the label: the API server must not send them."""
    hooks = find(
        render({"namespaceSelector": {"matchLabels": labels}}, binary=binary),
        "MutatingWebhookConfiguration",
    )
    for hook in hooks["webhooks"]:
        assert hook["namespaceSelector"]["matchLabels"] == {
            **labels,
            "vault-storage-injector.io/enabled": "true",
        }


@pytest.mark.parametrize("binary", HELMS)
@pytest.mark.parametrize("value", ["false", "yes"])
def test_the_opt_in_label_cannot_be_changed_in_the_namespace_selector(
    value: str, binary: str
) -> None:
    values = {"namespaceSelector": {"matchLabels": {"vault-storage-injector.io/enabled": value}}}
    message = refused(values, binary=binary)
    # Helm 4 names it as a JSON pointer (".../vault-storage-injector.io~1enabled"), Helm 3 dotted.
    assert "namespaceSelector" in message
    assert "matchLabels" in message
    assert "vault-storage-injector.io" in message


@pytest.mark.parametrize("binary", HELMS)
def test_certs_rotate_before_past_the_cas_renewal_is_refused(binary: str) -> None:
    """vsi-certs renews the CA 90 days before it expires; a later leaf renewal fails every Job."""
    assert key_named(refused({"certs": {"rotateBefore": 91}}, binary=binary), "certs.rotateBefore")
    rendered = find(render({"certs": {"rotateBefore": 90}}, binary=binary), "CronJob")
    (rotate,) = rendered["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert "--rotate-before=90" in rotate["args"]
    # The schema's bound is vsi-certs' own.
    names = {
        "namespace": "ns",
        "service": "svc",
        "secret": "tls",
        "webhook_config": "vsi",
        "ca_secret": "ca",
    }
    make_settings(**names, rotate_before_days=90)
    with pytest.raises(CertsError, match="--ca-rotate-before"):
        make_settings(**names, rotate_before_days=91)


@pytest.mark.parametrize("binary", HELMS)
def test_kubernetes_older_than_1_30_is_refused(binary: str) -> None:
    old = helm(*_template("1.29.9"), binary=binary)
    assert old.returncode != 0
    assert "kubeVersion" in old.stderr or "incompatible with Kubernetes" in old.stderr
    current = helm(*_template("1.30.0"), binary=binary)
    assert current.returncode == 0, current.stderr


def _template(kube_version: str) -> list[str]:
    return ["template", "vsi", str(CHART), "--kube-version", kube_version]


@pytest.mark.parametrize("case", ["default", "cert-manager", "rook-kms-values.yaml"])
def test_two_renders_are_byte_identical(case: str) -> None:
    def once() -> str:
        if case in OPTIONS:
            return template_text(OPTIONS[case])
        return template_text(value_files=[EXAMPLES / case])

    assert once() == once()


def test_no_template_makes_keys_certificates_or_random_values() -> None:
    generating = re.compile(
        r"\{\{[^}]*\b(genCA|genCAWithKey|genSelfSignedCert|genSelfSignedCertWithKey|genSignedCert|"
        r"genSignedCertWithKey|genPrivateKey|derivePassword|randAlphaNum|randAlpha|randNumeric|"
        r"randAscii|randBytes|randInt|uuidv4|now|lookup)\b"
    )
    templates = sorted((CHART / "templates").rglob("*"))
    assert templates
    for path in templates:
        if path.is_file():
            assert not generating.search(path.read_text()), path.name


@pytest.mark.parametrize("case", [*OPTIONS, *EXAMPLE_FILES])
def test_no_case_renders_secret_material(case: str) -> None:
    """The only Secrets are the two vsi-certs fills, shipped without data or type (with
    cert-manager, none): nothing a render or an upgrade could empty or leak."""
    objects = _render_case(case, HELM4)
    secrets = [o for o in objects if o["kind"] == "Secret"]
    names = sorted(s["metadata"]["name"] for s in secrets)
    cert_manager = bool(OPTIONS.get(case, {}).get("certManager", {}).get("enabled"))
    prefix = "vault-storage-injector"
    assert names == ([] if cert_manager else [f"{prefix}-ca", f"{prefix}-tls"])
    for secret in secrets:
        assert set(secret) == {"apiVersion", "kind", "metadata"}, secret["metadata"]["name"]


def test_an_upgrade_keeps_everything_but_the_finished_bootstrap_job() -> None:
    installed = render()
    upgraded = render(extra=["--is-upgrade"])
    assert [o for o in installed if o["kind"] != "Job"] == upgraded
    assert [o["metadata"]["name"] for o in installed if o["kind"] == "Job"] == [
        "vault-storage-injector-certs-bootstrap"
    ]
    find(upgraded, "CronJob", "vault-storage-injector-certs-rotate")
    for hook in find(upgraded, "MutatingWebhookConfiguration")["webhooks"]:
        assert "caBundle" not in hook["clientConfig"]


def test_the_webhook_configuration_is_installed_last_so_it_is_removed_first() -> None:
    """Helm applies in its kind order and deletes in reverse: the webhook configuration goes
    before the Deployment that answers it is gone (failurePolicy Fail would block pods). Only
    the certs admission policy, a kind Helm's order does not know (so it comes last), follows."""
    policy = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    for binary in HELMS:
        kinds = [o["kind"] for o in release_objects(render(binary=binary))]
        last = kinds.index("MutatingWebhookConfiguration")
        assert set(kinds[last + 1 :]) == policy, binary
        assert kinds.index("Deployment") < last


def test_the_options_change_what_they_say() -> None:
    scheduled = find(render(OPTIONS["scheduling"]), "Deployment")
    pod = scheduled["spec"]["template"]["spec"]
    assert scheduled["spec"]["replicas"] == 3
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert "podAntiAffinity" not in pod["affinity"]
    assert scheduled["spec"]["template"]["metadata"]["annotations"] == {
        "example.com/owner": "storage"
    }
    assert pod["containers"][0]["resources"]["limits"] == {"memory": "1Gi", "cpu": "1"}

    pdb = find(render(OPTIONS["pdb-max-unavailable"]), "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in pdb["spec"]
    assert "PodDisruptionBudget" not in {o["kind"] for o in render(OPTIONS["no-pdb"])}

    hooks = find(render(OPTIONS["ignore"]), "MutatingWebhookConfiguration")["webhooks"]
    for hook in hooks:
        assert hook["timeoutSeconds"] == 10
        assert hook["failurePolicy"] == "Ignore"
        assert hook["namespaceSelector"]["matchExpressions"][0] == {
            "key": "storage",
            "operator": "In",
            "values": ["ceph"],
        }
        assert hook["namespaceSelector"]["matchLabels"] == {
            "team": "storage",
            "vault-storage-injector.io/enabled": "true",
        }

    cron = find(render(OPTIONS["certs"]), "CronJob")
    assert cron["spec"]["schedule"] == "@weekly"
    (rotate,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert "--rotate-before=60" in rotate["args"]


def test_the_storage_entries_follow_failure_policy_but_rooks_kms_pods_stay_ignore() -> None:
    for policy in ("Fail", "Ignore"):
        hooks = find(render({"failurePolicy": policy}), "MutatingWebhookConfiguration")
        by_name = {h["name"]: h["failurePolicy"] for h in hooks["webhooks"]}
        assert by_name.pop("rook-pods.vault-storage-injector.io") == "Ignore"
        assert set(by_name.values()) == {policy}


def test_secret_access_is_read_only_and_in_each_named_namespace_alone() -> None:
    objects = render(OPTIONS["secret-access"])
    roles = [
        o for o in objects if o["kind"] == "Role" and o["metadata"]["name"].endswith("-secrets")
    ]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["portworx", "rook-ceph"]
    for role in roles:
        assert role["rules"] == [
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "resourceNames": ["px-vault", "rook-vault", "vsi-vault"],
                "verbs": ["list", "watch"],
            }
        ]
    for binding in (o for o in objects if o["kind"] == "RoleBinding"):
        assert binding["subjects"][0]["namespace"] == "vault-storage-injector"
    for role in (o for o in objects if o["kind"] == "ClusterRole"):
        for rule in role["rules"]:
            assert "secrets" not in rule["resources"]
