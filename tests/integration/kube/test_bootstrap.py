"""`certs.bootstrap` against the Kubernetes API double over real HTTP.

The double starts where the manifests leave it: the webhook configuration without a caBundle and
the two Secrets without data. First run, idempotence, leaf and CA rotation with an overlapping
bundle, an installation from before the CA had a Secret of its own, conflicts, the narrowed RBAC
of manifests/base (no create at all), and the errors an admin must understand.
"""

from __future__ import annotations

import base64
import datetime as dt
import socket
from typing import Any

import pytest
from cryptography import x509
from kubernetes_asyncio.client import ApiClient, Configuration

from certs.bootstrap import bootstrap
from certs.errors import CertsError
from certs.pki import key_matches, load_ec_key, san_names, signed_by
from certs.plan import BootstrapSettings, make_settings, secret_data
from doubles.kubeapi import TOKEN, RunningKubeApi
from tests.integration.kube.conftest import (
    CA_SECRET,
    NAMESPACE,
    SECRET,
    SERVICE,
    WEBHOOK_CONFIG,
    shipped_secret,
    webhook_configuration,
)
from tests.integration.manifests.conftest import MANIFESTS, kustomize

T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def settings(**overrides: Any) -> BootstrapSettings:
    values: dict[str, Any] = {
        "namespace": NAMESPACE,
        "service": SERVICE,
        "secret": SECRET,
        "webhook_config": WEBHOOK_CONFIG,
        "ca_secret": CA_SECRET,
        "days": 365,
        "ca_days": 3650,
    }
    values.update(overrides)
    return make_settings(**values)


def stored(kubeapi: RunningKubeApi, name: str) -> dict[str, bytes]:
    secret = kubeapi.api.get("secrets", NAMESPACE, name)
    assert secret is not None
    return secret_data(secret)


def stored_secret(kubeapi: RunningKubeApi) -> dict[str, bytes]:
    """Both Secrets together, as bootstrap reads them (the serving one holds no CA key)."""
    tls, ca = stored(kubeapi, SECRET), stored(kubeapi, CA_SECRET)
    assert "ca.key" not in tls
    assert set(ca) == {"ca.crt", "ca.key"}
    assert tls["ca.crt"] == ca["ca.crt"]
    return {**tls, **ca}


def bundles(kubeapi: RunningKubeApi) -> list[list[x509.Certificate]]:
    config = kubeapi.api.get("mutatingwebhookconfigurations", None, WEBHOOK_CONFIG)
    assert config is not None
    return [
        x509.load_pem_x509_certificates(base64.b64decode(entry["clientConfig"]["caBundle"]))
        for entry in config["webhooks"]
    ]


def leaf(data: dict[str, bytes]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(data["tls.crt"])


@pytest.fixture
def installed(kubeapi: RunningKubeApi) -> RunningKubeApi:
    kubeapi.api.apply(webhook_configuration(entries=3))
    kubeapi.api.apply(shipped_secret(SECRET))
    kubeapi.api.apply(shipped_secret(CA_SECRET))
    return kubeapi


async def test_first_run_fills_both_secrets_and_sets_the_ca_bundle_of_every_entry(
    installed: RunningKubeApi, api_client: ApiClient
) -> None:
    result = await bootstrap(api_client, settings(), now=T0)

    data = stored_secret(installed)
    ca = x509.load_pem_x509_certificate(data["ca.crt"])
    ca_key = load_ec_key(data["ca.key"])
    assert ca_key is not None
    assert key_matches(ca_key, ca)
    assert signed_by(leaf(data), ca)
    assert f"{SERVICE}.{NAMESPACE}.svc" in san_names(leaf(data))
    assert [
        [c.fingerprint(ca.signature_hash_algorithm) for c in b] for b in bundles(installed)
    ] == [[ca.fingerprint(ca.signature_hash_algorithm)]] * 3
    assert result.secret_written
    assert result.entries_patched == 3
    assert result.plan.ca_renewed
    assert result.plan.leaf_renewed
    # The bundle goes in first, then the CA key, then the Secret that pods serve from.
    writes = [(r.verb, r.resource, r.name) for r in installed.api.writes()]
    assert writes == [
        ("update", "mutatingwebhookconfigurations", WEBHOOK_CONFIG),
        ("update", "secrets", CA_SECRET),
        ("update", "secrets", SECRET),
    ]
    # Server-side apply of the manifests leaves alone what this manager owns.
    assert {r.query.get("fieldManager") for r in installed.api.writes()} == {"vsi-certs"}
    # Fields the client does not model survive the update (raw JSON, no model round trip).
    config = installed.api.get("mutatingwebhookconfigurations", None, WEBHOOK_CONFIG)
    assert config is not None
    assert config["metadata"]["labels"] == {"app": "vault-storage-injector"}
    assert config["webhooks"][2]["clientConfig"]["service"]["path"] == "/mutate"
    assert all(r.authorization == f"Bearer {TOKEN}" for r in installed.api.requests)


async def test_second_run_with_valid_certificates_writes_nothing(
    installed: RunningKubeApi, api_client: ApiClient
) -> None:
    await bootstrap(api_client, settings(), now=T0)
    before = stored_secret(installed)
    writes_before = len(installed.api.writes())

    result = await bootstrap(api_client, settings(), now=T0 + dt.timedelta(days=100))

    assert len(installed.api.writes()) == writes_before
    assert not result.secret_written
    assert result.entries_patched == 0
    assert not result.plan.ca_renewed
    assert not result.plan.leaf_renewed
    assert stored_secret(installed) == before


async def test_leaf_close_to_expiry_is_renewed_and_the_ca_kept(
    installed: RunningKubeApi, api_client: ApiClient
) -> None:
    await bootstrap(api_client, settings(), now=T0)
    first = stored_secret(installed)
    writes_before = len(installed.api.writes())

    later = T0 + dt.timedelta(days=340)  # 25 days left < --rotate-before 30
    result = await bootstrap(api_client, settings(), now=later)

    second = stored_secret(installed)
    assert result.plan.leaf_renewed
    assert not result.plan.ca_renewed
    assert second["ca.crt"] == first["ca.crt"]
    assert second["ca.key"] == first["ca.key"]
    assert second["tls.crt"] != first["tls.crt"]
    assert second["tls.key"] != first["tls.key"]
    assert leaf(second).not_valid_after_utc > later + dt.timedelta(days=300)
    # Only the serving Secret changed: the bundle already trusts the same CA.
    new_writes = installed.api.writes()[writes_before:]
    assert [(r.verb, r.resource, r.name) for r in new_writes] == [("update", "secrets", SECRET)]


async def test_ca_rotation_keeps_the_old_ca_in_the_bundle_until_it_expires(
    installed: RunningKubeApi, api_client: ApiClient
) -> None:
    short = settings(days=60, ca_days=100, rotate_before_days=10, ca_rotate_before_days=30)
    await bootstrap(api_client, short, now=T0)
    old_ca = x509.load_pem_x509_certificate(stored_secret(installed)["ca.crt"])

    # 80 days on, the CA has 20 days left (< 30): a new CA, the old one still trusted.
    rotation = T0 + dt.timedelta(days=80)
    writes_before = len(installed.api.writes())
    result = await bootstrap(api_client, short, now=rotation)

    data = stored_secret(installed)
    bundle = x509.load_pem_x509_certificates(data["ca.crt"])
    assert result.plan.ca_renewed
    assert result.plan.leaf_renewed
    assert result.plan.bundle_size == 2
    assert bundle[1] == old_ca
    assert bundle[0] != old_ca
    assert signed_by(leaf(data), bundle[0])
    ca_key = load_ec_key(data["ca.key"])
    assert ca_key is not None
    assert key_matches(ca_key, bundle[0])
    assert bundles(installed) == [bundle] * 3
    # New CA in the bundle first, then its key, then the Secret with the leaf it signed.
    new_writes = installed.api.writes()[writes_before:]
    assert [(r.verb, r.resource, r.name) for r in new_writes] == [
        ("update", "mutatingwebhookconfigurations", WEBHOOK_CONFIG),
        ("update", "secrets", CA_SECRET),
        ("update", "secrets", SECRET),
    ]

    # Still before the old CA's expiry: nothing to do.
    writes_before = len(installed.api.writes())
    await bootstrap(api_client, short, now=rotation + dt.timedelta(days=5))
    assert len(installed.api.writes()) == writes_before

    # Once the old CA expired, it leaves the bundle and the Secret.
    result = await bootstrap(api_client, short, now=T0 + dt.timedelta(days=101))
    assert result.plan.bundle_size == 1
    assert not result.plan.ca_renewed
    assert bundles(installed) == [[bundle[0]]] * 3
    assert x509.load_pem_x509_certificates(stored_secret(installed)["ca.crt"]) == [bundle[0]]


async def test_conflict_on_the_webhook_update_is_retried_after_a_re_read(
    installed: RunningKubeApi, api_client: ApiClient
) -> None:
    def another_writer() -> None:
        config = webhook_configuration(entries=3)
        config["metadata"]["annotations"] = {"touched-by": "someone-else"}
        installed.api.apply(config)

    installed.api.before("update", "mutatingwebhookconfigurations", another_writer)

    await bootstrap(api_client, settings(), now=T0)

    updates = [r for r in installed.api.requests if r.verb == "update" and r.name == WEBHOOK_CONFIG]
    assert [r.status for r in updates] == [409, 200]
    assert installed.api.count("get", "mutatingwebhookconfigurations") == 2
    config = installed.api.get("mutatingwebhookconfigurations", None, WEBHOOK_CONFIG)
    assert config is not None
    assert config["metadata"]["annotations"] == {"touched-by": "someone-else"}
    assert len(bundles(installed)) == 3


async def test_conflict_on_the_secret_update_is_retried(
    installed: RunningKubeApi, api_client: ApiClient
) -> None:
    await bootstrap(api_client, settings(), now=T0)

    def another_writer() -> None:
        secret = installed.api.get("secrets", NAMESPACE, SECRET)
        assert secret is not None
        secret["metadata"]["labels"] = {"touched": "yes"}
        installed.api.apply(secret)

    installed.api.before("update", "secrets", another_writer)
    seen_before = len(installed.api.requests)
    await bootstrap(api_client, settings(), now=T0 + dt.timedelta(days=340))

    later = installed.api.requests[seen_before:]
    updates = [r.status for r in later if r.verb == "update" and r.name == SECRET]
    assert updates == [409, 200]
    secret = installed.api.get("secrets", NAMESPACE, SECRET)
    assert secret is not None
    assert secret["metadata"]["labels"] == {"touched": "yes"}


async def test_denied_rbac_names_the_verb_and_the_resource(
    installed: RunningKubeApi, api_client: ApiClient
) -> None:
    installed.api.forbid("update", "mutatingwebhookconfigurations")

    with pytest.raises(CertsError) as caught:
        await bootstrap(api_client, settings(), now=T0)

    assert str(caught.value) == (
        f"forbidden: cannot update mutatingwebhookconfigurations/{WEBHOOK_CONFIG}"
    )
    assert caught.value.exit_code == 1


@pytest.mark.parametrize("missing", [SECRET, CA_SECRET])
async def test_a_secret_the_manifests_did_not_ship_is_named_and_none_is_created(
    installed: RunningKubeApi, api_client: ApiClient, missing: str
) -> None:
    installed.api.remove("secrets", NAMESPACE, missing)

    with pytest.raises(CertsError) as caught:
        await bootstrap(api_client, settings(), now=T0)

    assert str(caught.value) == (
        f"secrets/{missing} not found in namespace {NAMESPACE}: apply the manifests first "
        "(they ship it without data; vsi-certs creates no Secret)"
    )
    assert installed.api.writes() == []


async def test_an_installation_that_kept_the_ca_key_with_the_serving_pair_keeps_its_ca(
    installed: RunningKubeApi, api_client: ApiClient
) -> None:
    await bootstrap(api_client, settings(), now=T0)
    before = stored_secret(installed)
    # As bootstrap used to leave it: one kubernetes.io/tls Secret with all four keys.
    installed.api.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET, "namespace": NAMESPACE},
            "type": "kubernetes.io/tls",
            "data": {k: base64.b64encode(v).decode() for k, v in before.items()},
        }
    )
    installed.api.apply(shipped_secret(CA_SECRET))  # what the new manifests add, empty
    writes_before = len(installed.api.writes())

    result = await bootstrap(api_client, settings(), now=T0 + dt.timedelta(days=10))

    assert not result.plan.ca_renewed
    assert not result.plan.leaf_renewed
    assert stored_secret(installed) == before  # the same CA, key and leaf, now split
    secret = installed.api.get("secrets", NAMESPACE, SECRET)
    assert secret is not None
    assert secret["type"] == "kubernetes.io/tls"  # kept: a type cannot change
    new_writes = installed.api.writes()[writes_before:]
    assert [(r.resource, r.name) for r in new_writes] == [
        ("secrets", CA_SECRET),
        ("secrets", SECRET),
    ]


def _base_rbac() -> list[dict[str, Any]]:
    """The certs service account's rules in manifests/base, with where they apply."""
    base = kustomize(MANIFESTS / "base")
    names = {"vault-storage-injector-certs"}
    roles = [
        o for o in base if o["kind"] in {"Role", "ClusterRole"} and o["metadata"]["name"] in names
    ]
    assert len(roles) == 2
    return roles


async def test_the_base_rbac_of_the_certs_service_account_is_enough_and_creates_nothing(
    installed: RunningKubeApi, api_client: ApiClient
) -> None:
    roles = _base_rbac()

    def may(verb: str, resource: str, namespace: str | None, name: str | None) -> bool:
        # The base's namespace is vault-storage-injector: read it as this test's.
        return any(
            verb in rule["verbs"]
            and resource in rule["resources"]
            and name in rule.get("resourceNames", [])
            and (role["kind"] == "ClusterRole" or namespace == NAMESPACE)
            for role in roles
            for rule in role["rules"]
        )

    installed.api.authorizer = may
    await bootstrap(api_client, settings(), now=T0)
    await bootstrap(api_client, settings(), now=T0 + dt.timedelta(days=340))

    assert [r for r in installed.api.requests if r.status == 403] == []
    assert {r.verb for r in installed.api.requests} == {"get", "update"}
    assert all(rule.get("resourceNames") for role in roles for rule in role["rules"])


async def test_missing_webhook_configuration_is_named(
    kubeapi: RunningKubeApi, api_client: ApiClient
) -> None:
    with pytest.raises(CertsError) as caught:
        await bootstrap(api_client, settings(), now=T0)

    message = str(caught.value)
    assert message.startswith(f"MutatingWebhookConfiguration '{WEBHOOK_CONFIG}' not found")
    assert "\n" not in message
    assert kubeapi.api.writes() == []


async def test_secret_of_another_type_is_refused_without_writing(
    installed: RunningKubeApi, api_client: ApiClient
) -> None:
    installed.api.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": CA_SECRET, "namespace": NAMESPACE},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(b"{}").decode()},
        }
    )
    writes_before = len(installed.api.writes())

    with pytest.raises(CertsError, match=r"has type 'kubernetes\.io/dockerconfigjson', expected"):
        await bootstrap(api_client, settings(), now=T0)
    assert len(installed.api.writes()) == writes_before


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_api_fails_fast_with_the_address() -> None:
    port = closed_port()
    configuration = Configuration(host=f"http://127.0.0.1:{port}")
    async with ApiClient(configuration) as client:
        with pytest.raises(CertsError) as caught:
            await bootstrap(client, settings(), now=T0)

    message = str(caught.value)
    assert message.startswith(f"cannot reach the Kubernetes API at http://127.0.0.1:{port}: ")
    assert "\n" not in message


async def test_key_material_never_appears_in_errors(
    installed: RunningKubeApi, api_client: ApiClient
) -> None:
    await bootstrap(api_client, settings(), now=T0)
    data = stored_secret(installed)
    installed.api.forbid("update", "secrets")

    with pytest.raises(CertsError) as caught:
        await bootstrap(api_client, settings(), now=T0 + dt.timedelta(days=340))

    text = str(caught.value)
    assert text == f"forbidden: cannot update secrets/{SECRET} in namespace {NAMESPACE}"
    for key in ("tls.key", "ca.key"):
        body = data[key].decode().split("-----")[2].strip().splitlines()[0]
        assert body not in text
