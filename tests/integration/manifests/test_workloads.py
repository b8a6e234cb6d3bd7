"""The webhook Deployment, the certificate Jobs and the examples carry the fixed names and flags."""

from __future__ import annotations

import re

import yaml

from tests.integration.manifests.conftest import (
    CERT_SECRETS,
    MANIFESTS,
    OPT_IN_LABEL,
    REPO,
    WEBHOOK_NAMESPACE,
    Obj,
    find,
    pod_templates,
    selector_matches,
)
from vsi_common import vault_values

NAME = "vault-storage-injector"
IMAGE = "ghcr.io/vault-storage-injector/vault-storage-injector:0.1.0"
SERVE_ARGS = [
    "serve",
    "--tls-cert=/etc/vault-storage-injector/tls/tls.crt",
    "--tls-key=/etc/vault-storage-injector/tls/tls.key",
    "--config=/etc/vault-storage-injector/config/config.yaml",
    "--port=8443",
    "--metrics-port=9090",
]
BOOTSTRAP_ARGS = [
    "bootstrap",
    "--namespace=$(POD_NAMESPACE)",
    "--service=vault-storage-injector",
    "--secret=vault-storage-injector-tls",
    "--webhook-config=vault-storage-injector",
    "--ca-secret=vault-storage-injector-ca",
    "--rotate-before=30",
]
POD_NAMESPACE_ENV = {
    "name": "POD_NAMESPACE",
    "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
}


def deployment(base: list[Obj]) -> Obj:
    return find(base, "Deployment", NAME, WEBHOOK_NAMESPACE)


def webhook_container(base: list[Obj]) -> Obj:
    (container,) = deployment(base)["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def test_webhook_runs_vsi_webhook_serve_with_the_fixed_flags(base: list[Obj]) -> None:
    container = webhook_container(base)
    assert container["image"] == IMAGE
    assert container["command"] == ["vsi-webhook"]
    assert container["args"] == SERVE_ARGS
    assert POD_NAMESPACE_ENV in container["env"]


def test_default_image_tag_is_the_package_version(base: list[Obj]) -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"$', pyproject, re.M)
    assert version is not None
    assert IMAGE.endswith(f":{version.group(1)}")
    images = {
        c["image"]
        for _, pod in pod_templates(base)
        for c in pod.get("initContainers", []) + pod["containers"]
    }
    assert images == {IMAGE}


def test_two_replicas_spread_over_nodes_and_surge_before_stopping(base: list[Obj]) -> None:
    spec = deployment(base)["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    labels = spec["template"]["metadata"]["labels"]
    (term,) = spec["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert selector_matches(term["podAffinityTerm"]["labelSelector"], labels)


def test_disruption_budget_keeps_one_webhook_pod(base: list[Obj]) -> None:
    pdb = find(base, "PodDisruptionBudget", NAME, WEBHOOK_NAMESPACE)
    assert pdb["spec"]["minAvailable"] == 1
    labels = deployment(base)["spec"]["template"]["metadata"]["labels"]
    assert selector_matches(pdb["spec"]["selector"], labels)


def test_probes_use_readyz_and_healthz_over_https_on_the_webhook_port(base: list[Obj]) -> None:
    container = webhook_container(base)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"https": 8443, "metrics": 9090}
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = container[probe]["httpGet"]
        assert get == {"scheme": "HTTPS", "port": "https", "path": path}, probe


def test_service_maps_443_to_the_webhook_and_exposes_metrics(base: list[Obj]) -> None:
    service = find(base, "Service", NAME, WEBHOOK_NAMESPACE)
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports == {"https": (443, "https"), "metrics": (9090, "metrics")}
    labels = deployment(base)["spec"]["template"]["metadata"]["labels"]
    assert selector_matches({"matchLabels": service["spec"]["selector"]}, labels)


def test_certificate_and_config_are_directory_mounts_that_hot_reload(base: list[Obj]) -> None:
    pod = deployment(base)["spec"]["template"]["spec"]
    mounts = {m["name"]: m for m in webhook_container(base)["volumeMounts"]}
    assert not [m for m in mounts.values() if "subPath" in m or "subPathExpr" in m]
    assert mounts["tls"]["mountPath"] == "/etc/vault-storage-injector/tls"
    assert mounts["config"]["mountPath"] == "/etc/vault-storage-injector/config"
    assert mounts["tmp"]["mountPath"] == "/tmp"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "vault-storage-injector-tls"
    # Only the serving pair: the CA key stays out of the webhook pods.
    assert {i["key"] for i in volumes["tls"]["secret"]["items"]} == {"tls.crt", "tls.key"}
    assert volumes["config"]["configMap"]["name"] == "vault-storage-injector-config"
    assert "emptyDir" in volumes["tmp"]


def test_config_map_has_a_fixed_name_and_a_minimal_valid_config(base: list[Obj]) -> None:
    config_map = find(base, "ConfigMap", "vault-storage-injector-config", WEBHOOK_NAMESPACE)
    assert set(config_map["data"]) == {"config.yaml"}
    assert yaml.safe_load(config_map["data"]["config.yaml"]) == {"builtinProfiles": True}


def test_bootstrap_job_and_rotation_cronjob_run_vsi_certs_bootstrap(base: list[Obj]) -> None:
    job = find(base, "Job", "vault-storage-injector-certs-bootstrap", WEBHOOK_NAMESPACE)
    cron = find(base, "CronJob", "vault-storage-injector-certs-rotate", WEBHOOK_NAMESPACE)
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    for pod in (
        job["spec"]["template"]["spec"],
        cron["spec"]["jobTemplate"]["spec"]["template"]["spec"],
    ):
        assert pod["serviceAccountName"] == "vault-storage-injector-certs"
        (container,) = pod["containers"]
        assert container["image"] == IMAGE
        assert container["command"] == ["vsi-certs"]
        assert container["args"] == BOOTSTRAP_ARGS
        assert POD_NAMESPACE_ENV in container["env"]


def test_bootstrap_rbac_is_the_one_secret_and_the_one_webhook_configuration(
    base: list[Obj],
) -> None:
    role = find(base, "Role", "vault-storage-injector-certs", WEBHOOK_NAMESPACE)
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["vault-storage-injector-tls", "vault-storage-injector-ca"],
            "verbs": ["get", "update"],
        },
    ]
    cluster_role = find(base, "ClusterRole", "vault-storage-injector-certs")
    assert cluster_role["rules"] == [
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["mutatingwebhookconfigurations"],
            "resourceNames": ["vault-storage-injector"],
            "verbs": ["get", "update"],
        }
    ]
    # The two Secrets it updates come with the manifests, without data or type.
    for name in ("vault-storage-injector-tls", "vault-storage-injector-ca"):
        secret = find(base, "Secret", name, WEBHOOK_NAMESPACE)
        assert set(secret) == {"apiVersion", "kind", "metadata"}, name


def test_webhook_may_only_list_and_watch_namespaces_cluster_wide(base: list[Obj]) -> None:
    cluster_role = find(base, "ClusterRole", NAME)
    assert cluster_role["rules"] == [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}
    ]
    binding = find(base, "ClusterRoleBinding", NAME)
    assert binding["roleRef"]["name"] == NAME
    assert deployment(base)["spec"]["template"]["spec"]["serviceAccountName"] == NAME


def env_file_names(path: str) -> set[str]:
    """The VAULT_* names an example's env file lists (set or commented out)."""
    text = (MANIFESTS / path).read_text()
    return set(re.findall(r"^\s*#?\s*(VAULT_[A-Z_]+)=", text, re.M))


def test_connection_env_files_name_every_setting_their_clients_read() -> None:
    """px-vault's file lists what Portworx reads; rook-vault's what Rook's pods and the
    injector read and may be given (the built-in rook-osd and rook-kms profiles share it)."""
    wanted = {
        "examples/portworx/px-vault.env.example": {vault_values.PORTWORX},
        "examples/rook/rook-vault.env.example": {vault_values.ROOK, vault_values.INJECTOR},
    }
    for path, readers in wanted.items():
        settings = {
            name
            for name, rule in vault_values.RULES.items()
            if rule.readers & readers and vault_values.allowed_for(name, readers)
        }
        keys = env_file_names(path)
        assert keys == settings, f"{path}: missing {settings - keys}, extra {keys - settings}"
        assert "VAULT_ADDR" in keys


def test_the_storage_examples_leave_namespace_and_secret_to_the_admin(
    builds: dict[str, list[Obj]],
) -> None:
    for example, namespace in (("portworx", "portworx"), ("rook", "rook-ceph")):
        objects = builds[f"manifests/examples/{example}"]
        assert [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"] == [
            WEBHOOK_NAMESPACE
        ]
        secrets = {
            (o["metadata"].get("namespace"), o["metadata"]["name"])
            for o in objects
            if o["kind"] == "Secret"
        }
        assert secrets == {(WEBHOOK_NAMESPACE, name) for name in CERT_SECRETS}
        find(objects, "RoleBinding", "vault-storage-injector-secrets", namespace)
        readme = (MANIFESTS / "examples" / example / "README.md").read_text()
        assert f"kubectl label namespace {namespace} {OPT_IN_LABEL}=true" in readme
        assert f"kubectl -n {namespace} create secret generic" in readme
        assert "--from-env-file=" in readme
        assert "--from-literal=" in readme
        assert f"kubectl delete -k manifests/examples/{example}" in readme


def test_network_policy_admits_only_webhook_and_metrics_ports(
    builds: dict[str, list[Obj]], base: list[Obj]
) -> None:
    objects = builds["manifests/examples/networkpolicy"]
    policy = find(objects, "NetworkPolicy", NAME, WEBHOOK_NAMESPACE)
    labels = deployment(base)["spec"]["template"]["metadata"]["labels"]
    assert selector_matches(policy["spec"]["podSelector"], labels)
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    ports = [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]]
    assert sorted(ports) == [8443, 9090]
    (metrics,) = [r for r in policy["spec"]["ingress"] if r["ports"][0]["port"] == 9090]
    assert metrics["from"], "metrics must not be open to every pod"


def test_shipped_config_and_its_commented_example_parse_with_the_webhooks_parser(
    base: list[Obj],
) -> None:
    from webhook.core.config import parse_config

    text = find(base, "ConfigMap", "vault-storage-injector-config", WEBHOOK_NAMESPACE)["data"][
        "config.yaml"
    ]
    parse_config(text, source="config.yaml")
    uncommented = "\n".join(
        re.sub(r"^# ", "", line)
        for line in text.splitlines()
        if re.match(r"^# {0,4}(injector|profiles|  \S)", line)
    )
    config = parse_config(uncommented, source="config.yaml (example)")
    assert config.injector.image == IMAGE
    assert [p.type for p in config.profiles if p.name == "rook-osd"] == ["rook-osd"]
