"""The doctor's checks of the webhook's own objects, with certificates made by `certs.pki`.

Pure: the state is built here as the API server would return it, the clock is fixed.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from cryptography import x509

from certs import pki
from vsi_common.report import Check
from webhook.doctor import install
from webhook.doctor.state import Failed, InstallState, Locations

NOW = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)
LOC = Locations()
SVC_NAME = f"{LOC.service}.{LOC.namespace}.svc"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pki(now: dt.datetime = NOW, days: int = 365, names: tuple[str, ...] | None = None) -> Any:
    ca_key, ca = pki.make_ca(days=3650, now=now - dt.timedelta(days=1))
    key, leaf = pki.make_leaf(
        ca_key, ca, names or pki.service_dns_names(LOC.service, LOC.namespace), days=days, now=now
    )
    return ca, key, leaf


def _secret(leaf: x509.Certificate, key: Any, ca: x509.Certificate) -> dict[str, Any]:
    return {
        "metadata": {"name": LOC.secret, "namespace": LOC.namespace},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": _b64(pki.cert_pem(leaf)),
            "tls.key": _b64(pki.key_pem(key)),
            "ca.crt": _b64(pki.cert_pem(ca)),
        },
    }


def _config(bundle: bytes | None, entries: int = 2, service: str = LOC.service) -> dict[str, Any]:
    hooks = []
    for i in range(entries):
        client: dict[str, Any] = {
            "service": {"name": service, "namespace": LOC.namespace, "path": "/mutate", "port": 443}
        }
        if bundle is not None:
            client["caBundle"] = _b64(bundle)
        hooks.append({"name": f"e{i}.vault-storage-injector.io", "clientConfig": client})
    return {"metadata": {"name": LOC.webhook_config}, "webhooks": hooks}


SERVICE = {"spec": {"ports": [{"name": "https", "port": 443}]}}


def _slices(*ready: bool | None) -> tuple[dict[str, Any], ...]:
    endpoints = [{"conditions": {} if r is None else {"ready": r}} for r in ready]
    labels = {install.SERVICE_NAME_LABEL: LOC.service}
    return ({"metadata": {"labels": labels}, "endpoints": endpoints},)


def _checks(state: InstallState, now: dt.datetime = NOW) -> dict[str, Check]:
    return {c.name: c for c in install.install_checks(state, LOC, now)}


def _state(**changes: Any) -> InstallState:
    ca, key, leaf = _pki()
    values: dict[str, Any] = {
        "webhook_config": _config(pki.cert_pem(ca)),
        "tls_secret": _secret(leaf, key, ca),
        "service": SERVICE,
        "endpoint_slices": _slices(True, True),
        "config_map": None,
    }
    values.update(changes)
    return InstallState(**values)


def test_a_complete_install_is_all_ok_in_dependency_order() -> None:
    checks = install.install_checks(_state(), LOC, NOW)

    assert [c.name for c in checks] == [
        "webhook-config",
        "ca-bundle",
        "serving-secret",
        "serving-expiry",
        "service",
        "endpoints",
    ]
    assert {c.status for c in checks} == {"ok"}


def test_a_bundle_during_a_ca_overlap_verifies_with_its_second_ca() -> None:
    ca, key, leaf = _pki()
    _, other = pki.make_ca(days=30, now=NOW)
    state = _state(
        webhook_config=_config(pki.cert_pem(other) + pki.cert_pem(ca)),
        tls_secret=_secret(leaf, key, ca),
    )

    check = _checks(state)["ca-bundle"]

    assert check.status == "ok"
    assert ca.subject.rfc4514_string() in check.detail


def test_a_bundle_that_is_not_pem_fails() -> None:
    check = _checks(_state(webhook_config=_config(b"not a certificate")))["ca-bundle"]

    assert check.status == "fail"
    assert "holds no PEM certificate" in check.detail


def test_a_missing_webhook_configuration_fails_and_skips_the_bundle() -> None:
    checks = _checks(_state(webhook_config=None))

    assert checks["webhook-config"].status == "fail"
    assert "kubectl apply -k manifests/base" in checks["webhook-config"].fix
    assert "ca-bundle" not in checks


def test_entries_calling_another_service_are_a_warning() -> None:
    ca, key, leaf = _pki()
    config = _config(pki.cert_pem(ca), service="elsewhere")

    check = _checks(_state(webhook_config=config, tls_secret=_secret(leaf, key, ca)))[
        "webhook-config"
    ]

    assert check.status == "warn"
    assert "do not call Service vault-storage-injector/vault-storage-injector" in check.detail


def test_a_forbidden_read_is_a_warning_naming_the_rule() -> None:
    failed = Failed("secrets/x", "forbidden: cannot get secrets/x", forbidden=True)

    checks = _checks(_state(tls_secret=failed))

    assert checks["serving-secret"].status == "warn"
    assert "get on secrets vault-storage-injector-tls" in checks["serving-secret"].fix
    assert checks["ca-bundle"].status == "warn"  # nothing to verify the bundle against
    assert "serving-expiry" not in checks


def test_a_certificate_for_another_name_fails_naming_both() -> None:
    ca, key, leaf = _pki(names=("other.example",))

    check = _checks(
        _state(webhook_config=_config(pki.cert_pem(ca)), tls_secret=_secret(leaf, key, ca))
    )["serving-secret"]

    assert check.status == "fail"
    assert "the certificate is for other.example" in check.detail
    assert f"not {SVC_NAME}" in check.detail


def test_a_key_that_does_not_match_fails() -> None:
    ca, _, leaf = _pki()
    other_key, _ = pki.make_ca(days=1)

    check = _checks(
        _state(webhook_config=_config(pki.cert_pem(ca)), tls_secret=_secret(leaf, other_key, ca))
    )["serving-secret"]

    assert check.status == "fail"
    assert "tls.key does not match tls.crt" in check.detail


def test_an_rsa_serving_pair_that_matches_is_ok() -> None:
    """cert-manager's default key type, or an admin's own certificate: the server takes it."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    ca_key, ca = pki.make_ca(days=3650, now=NOW - dt.timedelta(days=1))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names = pki.service_dns_names(LOC.service, LOC.namespace)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    secret = _secret(leaf, ca_key, ca)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    secret["data"]["tls.key"] = _b64(pem)

    checks = _checks(_state(webhook_config=_config(pki.cert_pem(ca)), tls_secret=secret))

    assert checks["serving-secret"].status == "ok", checks["serving-secret"].detail


@pytest.mark.parametrize(
    ("issued", "days", "status", "words"),
    [
        (NOW - dt.timedelta(days=400), 365, "fail", "expired on 2030-04-27"),
        (NOW - dt.timedelta(days=350), 365, "warn", "has not run or has failed"),
        (NOW + dt.timedelta(days=2), 365, "fail", "not valid before"),
        (NOW, 365, "ok", "(365 days)"),
    ],
)
def test_expiry(issued: dt.datetime, days: int, status: str, words: str) -> None:
    ca_key, ca = pki.make_ca(days=3650, now=issued - dt.timedelta(days=1))
    key, leaf = pki.make_leaf(
        ca_key, ca, pki.service_dns_names(LOC.service, LOC.namespace), days=days, now=issued
    )
    state = _state(webhook_config=_config(pki.cert_pem(ca)), tls_secret=_secret(leaf, key, ca))

    check = _checks(state)["serving-expiry"]

    assert check.status == status
    assert words in check.detail
    if status != "ok":
        assert check.fix


def test_a_serving_certificate_whose_ca_expired_fails() -> None:
    ca_key, ca = pki.make_ca(days=10, now=NOW - dt.timedelta(days=20))
    key, leaf = pki.make_leaf(
        ca_key,
        ca,
        pki.service_dns_names(LOC.service, LOC.namespace),
        days=365,
        now=NOW - dt.timedelta(days=15),
    )
    state = _state(webhook_config=_config(pki.cert_pem(ca)), tls_secret=_secret(leaf, key, ca))

    check = _checks(state)["serving-expiry"]

    # make_leaf never outlives its CA: the leaf expired with it.
    assert check.status == "fail"
    assert "expired on" in check.detail


@pytest.mark.parametrize(
    ("ready", "status"),
    [((), "fail"), ((False, False), "fail"), ((True,), "warn"), ((True, None), "ok")],
)
def test_endpoints(ready: tuple[bool | None, ...], status: str) -> None:
    check = _checks(_state(endpoint_slices=_slices(*ready)))["endpoints"]

    assert check.status == status


def _pod_endpoint(pod: str) -> dict[str, Any]:
    return {"conditions": {"ready": True}, "targetRef": {"kind": "Pod", "name": pod, "uid": pod}}


def test_a_dual_stack_service_counts_each_pod_once_and_names_its_selector() -> None:
    """One slice per address family, each listing the one pod: one ready pod, a warning."""
    labels = {"metadata": {"labels": {install.SERVICE_NAME_LABEL: LOC.service}}}
    slices = tuple({**labels, "endpoints": [_pod_endpoint("webhook-0")]} for _ in ("v4", "v6"))
    service = {**SERVICE, "spec": {**SERVICE["spec"], "selector": {"app": "vsi", "tier": "x"}}}

    check = _checks(_state(endpoint_slices=slices, service=service))["endpoints"]

    assert check.status == "warn"
    assert check.detail.startswith("1 ready endpoint behind")
    assert check.fix.endswith(f"kubectl -n {LOC.namespace} get pods -l app=vsi,tier=x")


def test_without_a_selector_the_endpoints_fix_describes_the_service() -> None:
    check = _checks(_state(endpoint_slices=_slices()))["endpoints"]

    assert f"kubectl -n {LOC.namespace} describe service {LOC.service}" in check.fix


@pytest.mark.parametrize(
    ("cronjob", "words"),
    [
        ("vsi-certs-rotate", "create job --from=cronjob/vsi-certs-rotate rotate-now"),
        (None, "renew it where it is issued (cert-manager"),
    ],
)
def test_the_certificate_fix_names_the_release_cronjob_or_none(
    cronjob: str | None, words: str
) -> None:
    ca, key, leaf = _pki(now=NOW - dt.timedelta(days=400))
    state = _state(webhook_config=_config(pki.cert_pem(ca)), tls_secret=_secret(leaf, key, ca))
    loc = Locations(rotate_cronjob=cronjob)

    check = {c.name: c for c in install.install_checks(state, loc, NOW)}["serving-expiry"]

    assert check.status == "fail"
    assert words in check.fix
    assert "vault-storage-injector-certs-rotate" not in check.fix


def test_a_service_without_the_port_the_entries_call_fails() -> None:
    check = _checks(_state(service={"spec": {"ports": [{"port": 8443}]}}))["service"]

    assert check.status == "fail"
    assert "has no port 443" in check.detail


@pytest.mark.parametrize(
    ("config_map", "status", "words"),
    [
        (None, "warn", "not found: checking with the built-in profiles"),
        ({"data": {}}, "fail", "has no key config.yaml"),
        ({"data": {"config.yaml": "profiles: 3"}}, "fail", "profiles"),
        ({"data": {"config.yaml": "builtinProfiles: true"}}, "ok", "rook-osd (rook-osd)"),
        (Failed("configmaps/x", "forbidden", True), "warn", "checking with the built-in"),
    ],
)
def test_profiles(config_map: Any, status: str, words: str) -> None:
    config, check = install.profiles(config_map, LOC)

    assert check.status == status
    assert words in check.detail
    assert config.profiles  # the built-ins at least
