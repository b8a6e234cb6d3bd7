"""``vsi-webhook doctor`` against the API double and the real OpenBao: a healthy install, then one
fault at a time, each reported with its fix, and the fix, applied as it says, clears it.

Every run goes through `Install.doctor`: a real process, its output scanned for every secret the
install holds (the Portworx token, Rook's seed, every JWT the double issued), its JSON held to the
report's contract (known check names, exit code 1 exactly when a check fails).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import hvac.exceptions
import pytest

from certs import pki
from demo.openbao import free_port
from doubles.kubeapi import TOKEN_REVIEWS, TOKEN_SUBRESOURCE, kubeconfig_for, serve_kubeapi
from tests.integration.doctor.conftest import (
    OSD_SA,
    PX_NS,
    ROLE,
    ROOK_NS,
    SEED_SECRET,
    WEBHOOK_NS,
    Install,
    portworx_in_kube_system,
    run_doctor,
)

ROTATE = "create job --from=cronjob/vault-storage-injector-certs-rotate"
TLS_SECRET = "vault-storage-injector-tls"
CA_SECRET = "vault-storage-injector-ca"
WEBHOOK_CONFIG = "vault-storage-injector"


def _doctor_requests(install: Install, since: int) -> list[tuple[str, str]]:
    """(verb, resource) of every request the doctor sent (OpenBao's TokenReviews left out)."""
    return [
        (r.verb, r.resource) for r in install.api.requests[since:] if r.resource != TOKEN_REVIEWS
    ]


async def test_a_healthy_install_passes_every_check_reading_only(healthy: Install) -> None:
    since = len(healthy.api.requests)

    result = await healthy.doctor("--vault")

    assert result.code == 0
    assert result.failing() == []
    assert result.warning() == []
    for name in (
        "webhook-config",
        "ca-bundle",
        "serving-secret",
        "serving-expiry",
        "service",
        "endpoints",
        "profiles",
        "namespaces",
        f"namespace:{ROOK_NS}",
        f"secrets:{ROOK_NS}/rook-osd",
        f"objects:{ROOK_NS}",
        f"secrets:{PX_NS}/portworx",
        f"object:{PX_NS}/DaemonSet/portworx",
    ):
        assert result.status(name) == "ok", name
    assert result.detail("namespaces") == f"opted in: {PX_NS}, {ROOK_NS}"
    osd = healthy.osd_vault_prefix
    assert f"kubernetes login at auth/{healthy.auth_mount} as role '{ROLE}'" in result.detail(
        osd + "auth"
    )
    assert "a run would store the seed" in result.detail(f"{osd}key:set1-data-0-8n462")
    # The check names the files as the container sees them, not the doctor's temporary copies.
    assert "/var/run/vault-storage-injector/seed/luks_key" in result.detail(
        f"{osd}seed:set1-data-0-8n462"
    )
    assert "VAULT_CACERT /etc/vault-storage-injector/tls/ca.crt" in result.detail(
        osd + "tls-certificate"
    )
    assert "VAULT_CACERT /etc/vault-storage-injector/tls/ca.crt" in result.detail(
        f"vault:{PX_NS}/daemonset/portworx/tls-certificate"
    )
    assert result.status(f"vault:{PX_NS}/daemonset/portworx/auth") == "ok"
    # Portworx names its own keys: only its connection is checked.
    assert not [n for n in result.checks if n.startswith(f"vault:{PX_NS}/") and "key:" in n]
    # Read-only: gets and lists, plus one TokenRequest for the OSD's service account.
    sent = _doctor_requests(healthy, since)
    assert {verb for verb, _ in sent} == {"get", "list", "create"}
    assert [r for r in sent if r[0] == "create"] == [("create", TOKEN_SUBRESOURCE)]
    assert [(ns, sa) for ns, sa, _ in healthy.api.issued] == [(ROOK_NS, OSD_SA)]
    # Nothing was created in Vault: the seed a run would store is not there.
    with pytest.raises(hvac.exceptions.InvalidPath):
        healthy.vault.secrets.kv.v2.read_secret_metadata(
            f"rook-ceph-osd-encryption-key-{'set1-data-0-8n462'}", mount_point=healthy.kv_mount
        )


async def test_the_table_is_for_people_and_ends_with_the_summary(healthy: Install) -> None:
    code, stdout, _ = await healthy.run()

    assert code == 0
    lines = stdout.splitlines()
    assert lines[0].split() == ["STATUS", "CHECK", "DETAIL"]
    assert lines[-1].endswith(" 0 warn, 0 fail")
    assert any(line.split()[:2] == ["ok", "ca-bundle"] for line in lines)


def _drop_ca_bundle(config: dict[str, Any]) -> None:
    for entry in config["webhooks"]:
        entry["clientConfig"].pop("caBundle", None)


async def test_no_ca_bundle_fails_until_the_bootstrap_runs(healthy: Install) -> None:
    healthy.edit("mutatingwebhookconfigurations", None, WEBHOOK_CONFIG, _drop_ca_bundle)

    broken = await healthy.doctor()

    assert broken.failing() == ["ca-bundle"]
    assert "no caBundle in pods.vault-storage-injector.io" in broken.detail("ca-bundle")
    assert f"kubectl -n {WEBHOOK_NS} {ROTATE}" in broken.fix("ca-bundle")
    await healthy.bootstrap()
    assert (await healthy.doctor()).failing() == []


async def test_a_ca_bundle_from_another_ca_names_both_issuers(healthy: Install) -> None:
    _, other = pki.make_ca(days=30)
    bundle = base64.b64encode(pki.cert_pem(other)).decode()

    def foreign(config: dict[str, Any]) -> None:
        for entry in config["webhooks"]:
            entry["clientConfig"]["caBundle"] = bundle

    healthy.edit("mutatingwebhookconfigurations", None, WEBHOOK_CONFIG, foreign)

    broken = await healthy.doctor()

    assert broken.failing() == ["ca-bundle"]
    detail = broken.detail("ca-bundle")
    assert other.subject.rfc4514_string() in detail
    assert "but the serving certificate was issued by CN=vault-storage-injector CA" in detail
    assert ROTATE in broken.fix("ca-bundle")
    await healthy.bootstrap()
    assert (await healthy.doctor()).failing() == []


async def test_a_missing_secret_key_names_the_key_and_the_secret(healthy: Install) -> None:
    def without_addr(secret: dict[str, Any]) -> None:
        secret["data"].pop("VAULT_ADDR")

    healthy.edit("secrets", ROOK_NS, "rook-vault", without_addr)

    broken = await healthy.doctor("--vault")

    name = f"secrets:{ROOK_NS}/rook-osd"
    setup = f"vault-setup:{ROOK_NS}/pod/rook-ceph-osd-0-6d8b7c9f5-x7k2p"
    assert sorted(broken.failing()) == [name, setup]
    assert f"Secret rook-vault in namespace {ROOK_NS} has no key VAULT_ADDR" in broken.detail(name)
    assert broken.fix(name) == (
        f"add VAULT_ADDR to the Secret rook-vault: kubectl -n {ROOK_NS} edit secret rook-vault"
    )
    assert broken.detail(setup).endswith("which it lacks: the container would not start")

    def with_addr(secret: dict[str, Any]) -> None:
        secret["data"]["VAULT_ADDR"] = base64.b64encode(b"https://127.0.0.1:1").decode()

    healthy.edit("secrets", ROOK_NS, "rook-vault", with_addr)
    assert (await healthy.doctor()).failing() == []


async def test_the_px_vault_portworx_reads_itself_is_checked_where_it_reads_it(
    healthy: Install,
) -> None:
    portworx_in_kube_system(healthy.api)
    name = "portworx-secret:kube-system/DaemonSet/portworx"

    found = await healthy.doctor()

    assert found.status(name) == "ok"
    assert found.detail(name) == (
        f"Portworx reads {PX_NS}/px-vault itself (VAULT_ADDR, VAULT_BACKEND_PATH, VAULT_TOKEN); "
        "kube-system/px-account needs get on it (Portworx's px-role)"
    )
    assert found.status("object:kube-system/DaemonSet/portworx") == "ok"
    healthy.api.remove("secrets", PX_NS, "px-vault")
    gone = await healthy.doctor("-n", "kube-system")
    assert gone.failing() == [name]
    assert gone.fix(name).startswith(f"kubectl -n {PX_NS} create secret generic px-vault")


def _unlabel(namespace: dict[str, Any]) -> None:
    namespace["metadata"]["labels"].pop("vault-storage-injector.io/enabled")


async def test_a_namespace_without_the_label_is_named_with_the_label_command(
    healthy: Install,
) -> None:
    healthy.edit("namespaces", None, ROOK_NS, _unlabel)
    label = f"kubectl label namespace {ROOK_NS} vault-storage-injector.io/enabled=true"

    found = await healthy.doctor()
    asked = await healthy.doctor("-n", ROOK_NS)

    # Without -n: a namespace that holds an OSD pod but did not opt in is a warning ...
    name = f"namespace:{ROOK_NS}"
    assert found.code == 0
    assert found.status(name) == "warn"
    assert f"Pod/{'rook-ceph-osd-0-6d8b7c9f5-x7k2p'}" in found.detail(name)
    assert found.fix(name) == label
    assert f"secrets:{ROOK_NS}/rook-osd" not in found.checks
    # ... and a namespace the admin names with -n must have opted in.
    assert asked.failing() == [name]
    assert "the API server does not call the webhook" in asked.detail(name)
    assert asked.fix(name) == label
    assert "namespaces" not in asked.checks
    assert asked.status(f"secrets:{ROOK_NS}/rook-osd") == "ok"
    healthy.edit(
        "namespaces",
        None,
        ROOK_NS,
        lambda ns: ns["metadata"]["labels"].update({"vault-storage-injector.io/enabled": "true"}),
    )
    assert (await healthy.doctor("-n", ROOK_NS)).failing() == []


async def test_an_expired_serving_certificate_fails_until_it_is_rotated(healthy: Install) -> None:
    for name in (TLS_SECRET, CA_SECRET):  # emptied, as the manifests ship them: a first run
        healthy.api.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": WEBHOOK_NS},
            }
        )
    await healthy.bootstrap(now=dt.datetime.now(dt.UTC) - dt.timedelta(days=400))

    broken = await healthy.doctor()

    assert broken.failing() == ["serving-expiry"]
    assert broken.detail("serving-expiry").startswith("the serving certificate expired on ")
    assert broken.status("ca-bundle") == "ok"
    assert ROTATE in broken.fix("serving-expiry")
    await healthy.bootstrap()
    assert (await healthy.doctor()).failing() == []


async def test_a_vault_role_bound_to_another_service_account_is_refused_by_openbao(
    healthy: Install,
) -> None:
    healthy.set_role(
        bound_service_account_names=["someone-else"],
        bound_service_account_namespaces=[ROOK_NS],
        token_policies=[healthy.policy],
    )

    broken = await healthy.doctor("--vault")

    auth = healthy.osd_vault_prefix + "auth"
    assert broken.failing() == [auth]
    assert "403" in broken.detail(auth)
    assert (
        f"the Vault role auth/{healthy.auth_mount}/role/{ROLE} must bind this service account"
        in broken.fix(auth)
    )
    assert broken.fix(auth).endswith(f"(here: service account {OSD_SA} in namespace {ROOK_NS})")
    healthy.set_role(
        bound_service_account_names=[OSD_SA],
        bound_service_account_namespaces=[ROOK_NS],
        token_policies=[healthy.policy],
    )
    assert (await healthy.doctor("--vault")).failing() == []


async def test_a_pod_created_before_the_webhook_is_named_with_how_to_renew_it(
    healthy: Install,
) -> None:
    from tests.integration.doctor.conftest import _golden_object

    pod = _golden_object("rook-osd-secret-seed")
    pod["metadata"]["name"] = "rook-ceph-osd-1-old"
    healthy.api.apply(pod)

    result = await healthy.doctor()

    name = f"object:{ROOK_NS}/Pod/rook-ceph-osd-1-old"
    assert result.code == 0
    assert result.status(name) == "warn"
    assert result.detail(name).startswith("not injected: the webhook would add profile rook-osd")
    assert result.fix(name).endswith(f"kubectl -n {ROOK_NS} delete pod rook-ceph-osd-1-old")
    assert "1 already injected, 1 the webhook would change" in result.detail(f"objects:{ROOK_NS}")


async def test_what_the_doctor_may_not_read_is_a_warning_naming_the_rule(healthy: Install) -> None:
    healthy.api.forbid("get", "secrets", ROOK_NS)
    healthy.api.forbid("list", "daemonsets")

    result = await healthy.doctor("--vault")

    assert result.failing() == []
    secrets = f"secrets:{ROOK_NS}/rook-osd"
    assert result.status(secrets) == "warn"
    assert "cannot read Secrets rook-vault, vault-tls" in result.detail(secrets)
    assert f"get on secrets in {ROOK_NS}" in result.fix(secrets)
    assert result.status(f"objects:{PX_NS}") == "warn"
    assert "list on daemonsets" in result.fix(f"objects:{PX_NS}")
    setup = f"vault-setup:{ROOK_NS}/pod/rook-ceph-osd-0-6d8b7c9f5-x7k2p"
    assert result.status(setup) == "warn"
    # The profiles' Secrets block the check; Rook's key (the seed) alone would not.
    assert "cannot read Secrets rook-vault, vault-tls" in result.detail(setup)
    assert SEED_SECRET not in result.detail(setup)


async def test_a_namespace_named_with_n_that_may_not_be_read_names_the_get(
    healthy: Install,
) -> None:
    healthy.api.forbid("get", "namespaces")

    result = await healthy.doctor("-n", ROOK_NS)

    name = f"namespace:{ROOK_NS}"
    assert result.status(name) == "warn"
    assert result.detail(name).startswith("not checked: ")
    assert result.fix(name) == (
        "give the doctor's service account get on namespaces (manifests/components/doctor)"
    )
    assert "namespaces" not in result.checks  # the advice for a run without -n


async def test_a_token_request_the_doctor_may_not_make_is_a_warning(healthy: Install) -> None:
    healthy.api.forbid("create", TOKEN_SUBRESOURCE, ROOK_NS)

    result = await healthy.doctor("--vault")

    setup = f"vault-setup:{ROOK_NS}/pod/rook-ceph-osd-0-6d8b7c9f5-x7k2p"
    assert result.failing() == []
    assert result.status(setup) == "warn"
    assert result.detail(setup).startswith("not checked: forbidden: cannot create")
    assert f"create on serviceaccounts/token for {OSD_SA} in {ROOK_NS}" in result.fix(setup)
    assert not [n for n in result.checks if n.startswith(healthy.osd_vault_prefix)]
    assert result.status(f"vault:{PX_NS}/daemonset/portworx/auth") == "ok"


@pytest.mark.parametrize("problem", ["unreachable", "rejected"])
async def test_an_api_server_the_doctor_cannot_use_is_one_line_and_exit_code_1(
    problem: str, tmp_path: Path
) -> None:
    async with serve_kubeapi() as running:
        url = running.url if problem == "rejected" else f"http://127.0.0.1:{free_port()}"
        config = json.loads(kubeconfig_for(url))
        config["users"][0]["user"]["token"] = "not-the-token"
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(json.dumps(config))
        code, out, err = await run_doctor(kubeconfig)

    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    expected = "cannot reach the Kubernetes API" if problem == "unreachable" else "(401)"
    assert lines[0].startswith("vsi-webhook: error: ")
    assert expected in lines[0]


async def test_lists_longer_than_a_page_are_followed_to_their_end(healthy: Install) -> None:
    """The opted-in namespaces and their pods sort after a page of others: seen only by following
    ``continue``, each page from one snapshot (the double serves lists as the apiserver does)."""
    from tests.integration.doctor.conftest import _namespace
    from webhook.doctor.cluster import PAGE

    crowd = "aaa-crowd"
    for i in range(PAGE + 10):
        healthy.api.apply(_namespace(f"aaa-{i:04d}", False))
    healthy.api.apply(_namespace(crowd, False))
    for i in range(PAGE + 10):
        healthy.api.apply(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"idle-{i:04d}", "namespace": crowd},
                "spec": {"containers": [{"name": "idle", "image": "registry.k8s.io/pause:3.10"}]},
            }
        )
    since = len(healthy.api.requests)

    result = await healthy.doctor()

    assert result.code == 0, result.failing()
    assert result.detail("namespaces") == f"opted in: {PX_NS}, {ROOK_NS}"
    assert result.status(f"objects:{ROOK_NS}") == "ok"
    assert "1 already injected" in result.detail(f"objects:{ROOK_NS}")
    lists = [r for r in healthy.api.requests[since:] if r.verb == "list"]
    for resource in ("namespaces", "pods"):
        pages = [r for r in lists if r.resource == resource]
        assert [r.query.get("limit") for r in pages] == [str(PAGE), str(PAGE)], resource
        assert "continue" not in pages[0].query, resource
        assert pages[1].query.get("continue"), resource


def _crowd_namespaces(install: Install) -> None:
    """More namespaces than a page, sorting before the opted-in ones."""
    from tests.integration.doctor.conftest import _namespace
    from webhook.doctor.cluster import PAGE

    for i in range(PAGE + 10):
        install.api.apply(_namespace(f"aaa-{i:04d}", False))


async def test_an_expired_continue_token_starts_the_list_again(healthy: Install) -> None:
    _crowd_namespaces(healthy)
    # Compacted just before the second page is asked for: that continue token answers 410.
    healthy.api.before(
        "list", "namespaces", lambda: healthy.api.before("list", "namespaces", healthy.api.compact)
    )
    since = len(healthy.api.requests)

    result = await healthy.doctor()

    assert result.code == 0, result.failing()
    assert result.detail("namespaces") == f"opted in: {PX_NS}, {ROOK_NS}"
    pages = [
        r for r in healthy.api.requests[since:] if (r.verb, r.resource) == ("list", "namespaces")
    ]
    assert [(r.status, "continue" in r.query) for r in pages] == [
        (200, False),
        (410, True),
        (200, False),
        (200, True),
    ]


async def test_a_list_that_keeps_expiring_is_one_warning_naming_the_410(healthy: Install) -> None:
    from webhook.doctor.cluster import LIST_ATTEMPTS

    _crowd_namespaces(healthy)

    def compact_before_every_list() -> None:
        healthy.api.compact()
        healthy.api.before("list", "namespaces", compact_before_every_list)

    healthy.api.before("list", "namespaces", compact_before_every_list)
    since = len(healthy.api.requests)

    result = await healthy.doctor()

    # Not read is a warning, as for every check the doctor could not make; no RBAC advice.
    assert result.code == 0
    assert result.warning() == ["namespaces"]
    assert result.detail("namespaces").startswith("not checked: list namespaces")
    assert "failed with HTTP 410" in result.detail("namespaces")
    assert result.detail("namespaces").endswith(f"(listed {LIST_ATTEMPTS} times)")
    assert result.fix("namespaces") == "check the Kubernetes API server"
    pages = [
        r for r in healthy.api.requests[since:] if (r.verb, r.resource) == ("list", "namespaces")
    ]
    assert [r.status for r in pages] == [200, 410] * LIST_ATTEMPTS
