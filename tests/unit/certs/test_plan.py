"""`certs.plan`: what bootstrap keeps, renews and writes, decided with an injected clock.

No API server here: each test builds the Secret's data as the previous run left it (or damages it),
then asks `plan_certificates` at a chosen ``now``. The flow that reads and writes the objects is
tested against the API double in ``tests/integration/kube``.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certs.errors import CertsError, InvalidInput
from certs.pki import (
    cert_pem,
    key_matches,
    key_pem,
    load_ec_key,
    make_ca,
    make_leaf,
    san_names,
    service_dns_names,
    signed_by,
)
from certs.plan import (
    CA_SECRET_KEYS,
    SECRET_KEYS,
    SECRET_TYPE,
    TLS_SECRET_KEYS,
    BootstrapSettings,
    CertPlan,
    combined,
    existing_data,
    make_settings,
    plan_certificates,
    secret_body,
    secret_data,
    secret_needs_write,
    with_ca_bundle,
)

T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
NAMESPACE, SERVICE, SECRET, WEBHOOK_CONFIG = "vsi", "vsi-webhook", "vsi-tls", "vsi-webhook"
CA_SECRET = "vsi-ca"
NAMES = service_dns_names(SERVICE, NAMESPACE)


def settings(**overrides: Any) -> BootstrapSettings:
    values: dict[str, Any] = {
        "namespace": NAMESPACE,
        "service": SERVICE,
        "secret": SECRET,
        "webhook_config": WEBHOOK_CONFIG,
        "ca_secret": CA_SECRET,
    }
    values.update(overrides)
    return make_settings(**values)


DEFAULTS = settings()
"""365-day leaf renewed 30 days before expiry; 3650-day CA renewed 90 days before."""
SHORT = settings(days=60, ca_days=100, rotate_before_days=10, ca_rotate_before_days=30)
"""Short lives, so that a CA rotation and the old CA's expiry fit in a few steps."""


def at(days: int) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def plan_at(
    current: Mapping[str, bytes] | None, days: int, config: BootstrapSettings = DEFAULTS
) -> CertPlan:
    return plan_certificates(current, config, now=at(days))


def first_run(config: BootstrapSettings = DEFAULTS) -> dict[str, bytes]:
    """The Secret's four keys as a first run at T0 leaves them."""
    return dict(plan_at(None, 0, config).data)


def bundle(data: Mapping[str, bytes]) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(data["ca.crt"])


def leaf(data: Mapping[str, bytes]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(data["tls.crt"])


def ca_key(data: Mapping[str, bytes]) -> ec.EllipticCurvePrivateKey:
    key = load_ec_key(data["ca.key"])
    assert key is not None
    return key


# --------------------------------------------------------------------------- plan_certificates


def test_no_secret_makes_a_ca_and_a_leaf_for_every_service_name() -> None:
    plan = plan_at(None, 0)

    assert set(plan.data) == set(SECRET_KEYS)
    assert plan.ca_renewed
    assert plan.leaf_renewed
    assert plan.bundle_size == 1
    [ca] = bundle(plan.data)
    assert key_matches(ca_key(plan.data), ca)
    assert signed_by(leaf(plan.data), ca)
    assert san_names(leaf(plan.data)) == set(NAMES)
    assert plan.bundle == plan.data["ca.crt"]
    assert plan.ca_not_after == at(3650)
    assert plan.leaf_not_after == at(365)
    assert secret_needs_write({}, plan.data)


def test_a_new_leaf_never_outlives_its_ca() -> None:
    plan = plan_at(None, 0, settings(days=400, ca_days=200, ca_rotate_before_days=90))

    assert plan.leaf_not_after == plan.ca_not_after == at(200)


@pytest.mark.parametrize("days", [0, 1, 100, 334])
def test_a_valid_secret_is_kept_byte_for_byte_and_needs_no_write(days: int) -> None:
    current = first_run()

    plan = plan_at(current, days)

    assert not plan.ca_renewed
    assert not plan.leaf_renewed
    assert plan.data == current
    assert plan.bundle_size == 1
    assert not secret_needs_write(current, plan.data)


def test_keys_an_admin_added_to_the_secret_do_not_cause_a_write() -> None:
    current = {**first_run(), "extra.txt": b"kept by the admin"}

    plan = plan_at(current, 10)

    assert set(plan.data) == set(SECRET_KEYS)
    assert not secret_needs_write(current, plan.data)


@pytest.mark.parametrize(
    ("days", "renewed"),
    [
        (334, False),  # 31 days left: more than --rotate-before 30
        (335, True),  # exactly 30 days left: renewed
        (340, True),  # 25 days left
        (400, True),  # expired
    ],
)
def test_a_leaf_close_to_expiry_is_renewed_under_the_same_ca(days: int, renewed: bool) -> None:
    current = first_run()

    plan = plan_at(current, days)

    assert plan.leaf_renewed is renewed
    assert not plan.ca_renewed
    assert plan.data["ca.crt"] == current["ca.crt"]
    assert plan.data["ca.key"] == current["ca.key"]
    assert (plan.data["tls.crt"] != current["tls.crt"]) is renewed
    assert (plan.data["tls.key"] != current["tls.key"]) is renewed
    assert signed_by(leaf(plan.data), bundle(current)[0])
    assert secret_needs_write(current, plan.data) is renewed
    if renewed:
        assert plan.leaf_not_after == at(days + 365)


@pytest.mark.parametrize(
    ("days", "renewed"),
    [
        (69, False),  # the CA has 31 days left: more than --ca-rotate-before 30
        (70, True),  # exactly 30 days left: renewed
        (80, True),  # 20 days left
    ],
)
def test_a_ca_close_to_expiry_is_renewed_with_the_old_ca_after_it_in_the_bundle(
    days: int, renewed: bool
) -> None:
    current = first_run(SHORT)
    [old_ca] = bundle(current)

    plan = plan_at(current, days, SHORT)

    assert plan.ca_renewed is renewed
    if not renewed:
        assert plan.bundle_size == 1
        assert bundle(plan.data) == [old_ca]
        return
    new_ca, kept = bundle(plan.data)
    assert plan.bundle_size == 2
    assert kept == old_ca
    assert new_ca != old_ca
    assert plan.ca_not_after == new_ca.not_valid_after_utc == at(days + 100)
    assert key_matches(ca_key(plan.data), new_ca)
    assert plan.leaf_renewed
    assert signed_by(leaf(plan.data), new_ca)
    assert plan.bundle.startswith(cert_pem(new_ca))


def test_the_overlap_is_stable_until_the_old_ca_expires_then_the_old_ca_is_dropped() -> None:
    rotated = dict(plan_at(first_run(SHORT), 80, SHORT).data)  # old CA ends at day 100
    new_ca, old_ca = bundle(rotated)

    during = plan_at(rotated, 85, SHORT)
    after = plan_at(rotated, 101, SHORT)

    assert during.data == rotated
    assert not secret_needs_write(rotated, during.data)
    assert bundle(after.data) == [new_ca]
    assert after.bundle_size == 1
    assert not after.ca_renewed
    assert not after.leaf_renewed
    assert after.data["tls.crt"] == rotated["tls.crt"]
    assert secret_needs_write(rotated, after.data)
    assert old_ca.not_valid_after_utc < at(101)


def test_several_expired_cas_are_dropped_and_valid_ones_kept_in_order() -> None:
    current = first_run()
    _, expired = make_ca(days=10, now=at(-20))
    _, valid = make_ca(days=1000, now=at(-20))
    current["ca.crt"] += cert_pem(expired) + cert_pem(valid) + cert_pem(expired)

    plan = plan_at(current, 0)

    assert bundle(plan.data) == [bundle(current)[0], valid]
    assert not plan.ca_renewed


def _leaf_missing_a_name(data: dict[str, bytes]) -> None:
    key, cert = make_leaf(ca_key(data), bundle(data)[0], NAMES[:-1], days=365, now=T0)
    data["tls.crt"], data["tls.key"] = cert_pem(cert), key_pem(key)


def _leaf_key_from_elsewhere(data: dict[str, bytes]) -> None:
    data["tls.key"] = key_pem(ec.generate_private_key(ec.SECP256R1()))


def _leaf_from_another_ca(data: dict[str, bytes]) -> None:
    other_key, other_ca = make_ca(days=3650, now=T0)
    key, cert = make_leaf(other_key, other_ca, NAMES, days=365, now=T0)
    data["tls.crt"], data["tls.key"] = cert_pem(cert), key_pem(key)


def _leaf_not_pem(data: dict[str, bytes]) -> None:
    data["tls.crt"] = b"not a certificate"


def _leaf_key_missing(data: dict[str, bytes]) -> None:
    del data["tls.key"]


def _ca_key_from_elsewhere(data: dict[str, bytes]) -> None:
    data["ca.key"] = key_pem(ec.generate_private_key(ec.SECP256R1()))


def _ca_key_missing(data: dict[str, bytes]) -> None:
    del data["ca.key"]


def _ca_not_pem(data: dict[str, bytes]) -> None:
    data["ca.crt"] = b"not a certificate"


@pytest.mark.parametrize(
    ("damage", "ca_renewed", "bundle_size"),
    [
        (_leaf_missing_a_name, False, 1),
        (_leaf_key_from_elsewhere, False, 1),
        (_leaf_from_another_ca, False, 1),
        (_leaf_not_pem, False, 1),
        (_leaf_key_missing, False, 1),
        # A CA whose key is lost or replaced is renewed; the old one stays trusted while valid.
        (_ca_key_from_elsewhere, True, 2),
        (_ca_key_missing, True, 2),
        (_ca_not_pem, True, 1),
    ],
)
def test_a_secret_that_no_longer_fits_gets_a_new_leaf(
    damage: Callable[[dict[str, bytes]], None], ca_renewed: bool, bundle_size: int
) -> None:
    current = first_run()
    damage(current)

    plan = plan_at(current, 1)

    assert plan.leaf_renewed
    assert plan.ca_renewed is ca_renewed
    assert plan.bundle_size == bundle_size
    ca = bundle(plan.data)[0]
    assert key_matches(ca_key(plan.data), ca)
    assert signed_by(leaf(plan.data), ca)
    assert san_names(leaf(plan.data)) == set(NAMES)
    assert secret_needs_write(current, plan.data)
    if not ca_renewed:
        assert plan.data["ca.crt"] == current["ca.crt"]
        assert plan.data["ca.key"] == current["ca.key"]


# --------------------------------------------------------------------------- webhook caBundle


def webhook_config(*bundles: str | None) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for i, ca_bundle in enumerate(bundles):
        client_config: dict[str, Any] = {"service": {"name": SERVICE, "path": "/mutate"}}
        if ca_bundle is not None:
            client_config["caBundle"] = ca_bundle
        entries.append({"name": f"entry{i}.example.com", "clientConfig": client_config})
    return {"metadata": {"name": WEBHOOK_CONFIG, "resourceVersion": "7"}, "webhooks": entries}


BUNDLE = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
ENCODED = base64.b64encode(BUNDLE).decode()


def test_with_ca_bundle_is_none_when_every_entry_already_carries_the_bundle() -> None:
    assert with_ca_bundle(webhook_config(ENCODED, ENCODED), BUNDLE) is None


@pytest.mark.parametrize(
    ("bundles", "changed"),
    [
        ((None,), 1),
        ((None, None, None), 3),
        ((ENCODED, None, "b2xk"), 2),
        (("b2xk", ENCODED), 1),
    ],
)
def test_with_ca_bundle_sets_every_entry_and_counts_the_changed_ones(
    bundles: tuple[str | None, ...], changed: int
) -> None:
    config = webhook_config(*bundles)

    result = with_ca_bundle(config, BUNDLE)

    assert result is not None
    patched, count = result
    assert count == changed
    assert [e["clientConfig"]["caBundle"] for e in patched["webhooks"]] == [ENCODED] * len(bundles)
    assert patched["metadata"] == config["metadata"]
    assert all(e["clientConfig"]["service"]["path"] == "/mutate" for e in patched["webhooks"])
    assert config == webhook_config(*bundles)  # the object read is left as it was


@pytest.mark.parametrize(
    "config",
    [
        {"metadata": {"name": WEBHOOK_CONFIG}, "webhooks": []},
        {"metadata": {"name": WEBHOOK_CONFIG}},
        {"metadata": {"name": WEBHOOK_CONFIG}, "webhooks": None},
    ],
)
def test_with_ca_bundle_refuses_a_configuration_without_entries(config: dict[str, Any]) -> None:
    with pytest.raises(CertsError) as caught:
        with_ca_bundle(config, BUNDLE)

    assert str(caught.value) == (
        f"MutatingWebhookConfiguration '{WEBHOOK_CONFIG}' has no webhook entries"
    )
    assert caught.value.exit_code == 1


# --------------------------------------------------------------------------- the Secret


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def test_existing_data_decodes_the_secret_and_skips_values_that_are_not_base64() -> None:
    secret = {"type": SECRET_TYPE, "data": {"tls.crt": b64(b"cert"), "junk": "***", "n": 5}}

    assert existing_data(secret, SECRET, NAMESPACE) == {"tls.crt": b"cert"}
    assert existing_data({"data": {"a": b64(b"b")}}, SECRET, NAMESPACE) == {"a": b"b"}  # Opaque
    assert existing_data({"type": "Opaque"}, SECRET, NAMESPACE) == {}  # as the manifests ship it


def test_existing_data_refuses_a_secret_of_another_type() -> None:
    with pytest.raises(CertsError) as caught:
        existing_data({"type": "kubernetes.io/basic-auth"}, CA_SECRET, NAMESPACE)

    assert str(caught.value) == (
        f"secrets/{CA_SECRET} in namespace {NAMESPACE} has type 'kubernetes.io/basic-auth', "
        "expected 'kubernetes.io/tls' or 'Opaque' (delete it and apply the manifests again, or "
        "choose another Secret)"
    )


def test_the_two_secrets_together_give_what_the_plan_reads() -> None:
    data = first_run()
    tls = {k: data[k] for k in TLS_SECRET_KEYS}
    ca = {k: data[k] for k in CA_SECRET_KEYS}

    assert combined(tls, ca) == data
    assert combined({}, {}) is None  # the manifests' empty Secrets: a first run
    # An installation from before the CA had its own Secret: all four keys in the serving one.
    assert combined(data, {}) == data
    assert plan_at(combined(data, {}), 10).data == data  # its CA and leaf are kept
    # Once the CA Secret has a key, it is the one read (a stale copy elsewhere is not).
    assert combined({**tls, "ca.key": b"stale"}, ca) == data


def test_the_ca_key_goes_to_the_ca_secret_alone() -> None:
    assert set(TLS_SECRET_KEYS) | set(CA_SECRET_KEYS) == set(SECRET_KEYS)
    assert "ca.key" not in TLS_SECRET_KEYS
    assert "ca.crt" in TLS_SECRET_KEYS  # the bundle, as cert-manager's Secrets carry it


def test_a_secret_that_still_holds_a_dropped_key_needs_a_write() -> None:
    data = first_run()
    tls = {k: data[k] for k in TLS_SECRET_KEYS}

    assert not secret_needs_write(tls, tls, dropped=("ca.key",))
    assert secret_needs_write({**tls, "ca.key": data["ca.key"]}, tls, dropped=("ca.key",))


def test_secret_body_keeps_metadata_type_and_other_keys_and_drops_what_it_is_told() -> None:
    existing = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET, "namespace": NAMESPACE, "resourceVersion": "42"},
        "type": SECRET_TYPE,
        "data": {"tls.crt": b64(b"old"), "extra": b64(b"admin's"), "ca.key": b64(b"key")},
    }
    data = {k: v for k, v in first_run().items() if k in TLS_SECRET_KEYS}

    body = secret_body(existing, data, dropped=("ca.key",))

    assert body["metadata"] == existing["metadata"]
    assert body["type"] == SECRET_TYPE
    assert secret_data(body) == {**data, "extra": b"admin's"}
    assert existing["data"]["tls.crt"] == b64(b"old")  # the object read is left as it was


def test_secret_body_fills_a_secret_the_manifests_shipped_empty() -> None:
    shipped = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": CA_SECRET}}
    data = {k: v for k, v in first_run().items() if k in CA_SECRET_KEYS}

    body = secret_body(shipped, data)

    assert "type" not in body  # Opaque, as the API server made it
    assert secret_data(body) == data


# --------------------------------------------------------------------------- make_settings


def test_make_settings_keeps_valid_flags() -> None:
    made = settings(days=90, ca_days=900, rotate_before_days=0, ca_rotate_before_days=0)

    assert made == BootstrapSettings(
        namespace=NAMESPACE,
        service=SERVICE,
        secret=SECRET,
        webhook_config=WEBHOOK_CONFIG,
        ca_secret=CA_SECRET,
        days=90,
        ca_days=900,
        rotate_before_days=0,
        ca_rotate_before_days=0,
    )
    assert settings() == BootstrapSettings(NAMESPACE, SERVICE, SECRET, WEBHOOK_CONFIG, CA_SECRET)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"namespace": None}, "--namespace: required (or set POD_NAMESPACE)"),
        ({"namespace": ""}, "--namespace: required (or set POD_NAMESPACE)"),
        ({"namespace": "Bad_NS"}, "--namespace: 'Bad_NS' is not a namespace name"),
        ({"service": "Bad_Name"}, "--service: 'Bad_Name' is not a Service name"),
        ({"secret": "No/Such"}, "--secret: 'No/Such' is not an object name"),
        ({"webhook_config": "bad..name"}, "--webhook-config: 'bad..name' is not an object name"),
        ({"ca_secret": "Bad_CA"}, "--ca-secret: 'Bad_CA' is not an object name"),
        ({"ca_secret": SECRET}, f"--ca-secret: {SECRET!r} is the --secret too; the CA key must"),
        ({"days": 0}, "--days: 0 is not a positive number of days"),
        ({"ca_days": -1}, "--ca-days: -1 is not a positive number of days"),
        ({"rotate_before_days": -1}, "--rotate-before: -1 is not zero or a positive number"),
        ({"ca_rotate_before_days": -1}, "--ca-rotate-before: -1 is not zero or a positive"),
        ({"rotate_before_days": 365}, "--rotate-before: 365 days must be less than --days (365)"),
        (
            {"ca_rotate_before_days": 3650},
            "--ca-rotate-before: 3650 days must be less than --ca-days (3650)",
        ),
        (
            {"ca_rotate_before_days": 10},
            "--ca-rotate-before: 10 days must be at least --rotate-before (30)",
        ),
    ],
)
def test_make_settings_rejects_a_bad_flag_naming_it(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        settings(**overrides)

    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2
