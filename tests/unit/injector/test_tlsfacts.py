"""What --check reports about TLS, fact by fact, with the clock injected (no server needed)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certs.pki import make_ca, make_leaf
from injector.check.tls import (
    CertInfo,
    TlsFacts,
    key_id,
    name_matches,
    parse_certificate,
    tls_checks,
)

NOW = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.UTC)
PEER = CertInfo(
    subject="CN=vault",
    issuer="CN=vault-storage-injector CA 2030-01-01",
    issuer_key_id="AB:CD",
    not_before=NOW - dt.timedelta(days=100),
    not_after=NOW + dt.timedelta(days=200),
    names=("vault", "vault.vault.svc", "127.0.0.1"),
)
FACTS = TlsFacts(
    origin="https://127.0.0.1:8200",
    name="127.0.0.1",
    name_source="the VAULT_ADDR host",
    trusted="VAULT_CACERT /ca.crt",
    skip_verify=False,
    verified=True,
    peer=PEER,
    version="TLSv1.3",
)


def by_name(facts: TlsFacts) -> dict[str, tuple[str, str, str]]:
    return {c.name: (c.status, c.detail, c.fix) for c in tls_checks(facts, NOW)}


@pytest.mark.parametrize(
    ("name", "names", "matches"),
    [
        ("vault.vault.svc", ["vault", "vault.vault.svc"], True),
        ("VAULT.vault.svc.", ["vault.vault.svc"], True),
        ("a.example.com", ["*.example.com"], True),
        ("a.b.example.com", ["*.example.com"], False),
        ("example.com", ["*.example.com"], False),
        ("127.0.0.1", ["127.0.0.1"], True),
        ("127.0.0.1", ["localhost", "127.0.0.2"], False),
        ("::1", ["0:0:0:0:0:0:0:1"], True),
        ("vault", [], False),
    ],
)
def test_name_matching_follows_the_certificate_rules(
    name: str, names: list[str], matches: bool
) -> None:
    assert name_matches(name, names) is matches


def test_a_verified_connection_names_issuer_key_id_name_and_expiry() -> None:
    checks = by_name(FACTS)

    assert list(checks) == ["tls-certificate", "tls-name", "tls-expiry", "tls-client"]
    assert checks["tls-certificate"] == (
        "ok",
        "CN=vault, issued by CN=vault-storage-injector CA 2030-01-01 (key id AB:CD), verified "
        "with VAULT_CACERT /ca.crt over TLSv1.3",
        "",
    )
    assert checks["tls-name"][0] == "ok"
    assert "127.0.0.1 (the VAULT_ADDR host) is in the certificate" in checks["tls-name"][1]
    assert checks["tls-expiry"] == (
        "ok",
        "Vault's certificate is valid until 2030-12-18 12:00 UTC (200 days)",
        "",
    )
    assert checks["tls-client"] == ("ok", "no client certificate (VAULT_CLIENT_CERT unset)", "")


def test_a_certificate_from_another_ca_fails_naming_the_issuer_seen_and_the_ca_held() -> None:
    facts = dataclasses.replace(
        FACTS,
        verified=False,
        fatal=True,
        error="certificate verify failed: unable to get local issuer certificate",
        trusted_cas="CN=other CA (key id 01:02)",
    )

    status, detail, fix = by_name(facts)["tls-certificate"]

    assert status == "fail"
    assert "issued by CN=vault-storage-injector CA 2030-01-01 (key id AB:CD)" in detail
    assert "VAULT_CACERT /ca.crt holds CN=other CA (key id 01:02)" in detail
    assert fix == (
        "set VAULT_CACERT (or VAULT_CAPATH) to the CA that issued it: "
        "CN=vault-storage-injector CA 2030-01-01, key id AB:CD"
    )


def test_a_name_mismatch_fails_the_name_not_the_chain() -> None:
    facts = dataclasses.replace(
        FACTS,
        name="vault.other",
        name_source="VAULT_TLS_SERVER_NAME",
        verified=False,
        fatal=True,
        name_mismatch=True,
        error="certificate verify failed: Hostname mismatch",
    )

    checks = by_name(facts)

    assert checks["tls-certificate"][0] == "ok"
    status, detail, fix = checks["tls-name"]
    assert status == "fail"
    assert detail == (
        "the certificate is not valid for vault.other (VAULT_TLS_SERVER_NAME); it names vault, "
        "vault.vault.svc, 127.0.0.1"
    )
    assert "VAULT_TLS_SERVER_NAME" in fix


@pytest.mark.parametrize(
    ("days_left", "status"), [(200, "ok"), (29, "warn"), (0.5, "warn"), (-1, "fail")]
)
def test_expiry_is_ok_then_a_warning_30_days_ahead_then_a_failure(
    days_left: float, status: str
) -> None:
    peer = dataclasses.replace(PEER, not_after=NOW + dt.timedelta(days=days_left))

    got, _detail, fix = by_name(dataclasses.replace(FACTS, peer=peer))["tls-expiry"]

    assert got == status
    assert bool(fix) is (status != "ok")


def test_a_certificate_not_valid_yet_fails_and_points_at_the_clocks() -> None:
    peer = dataclasses.replace(PEER, not_before=NOW + dt.timedelta(hours=1))

    status, detail, fix = by_name(dataclasses.replace(FACTS, peer=peer))["tls-expiry"]

    assert (status, fix) == ("fail", "check the clocks of this node and of the issuer")
    assert "not valid before" in detail


def test_skip_verify_warns_and_an_expired_certificate_does_not_stop_a_run_then() -> None:
    expired = dataclasses.replace(PEER, not_after=NOW - dt.timedelta(days=1), names=("x",))
    facts = dataclasses.replace(FACTS, skip_verify=True, verified=False, peer=expired)

    checks = by_name(facts)

    assert checks["tls-certificate"][0] == "warn"
    assert "not verified (VAULT_SKIP_VERIFY)" in checks["tls-certificate"][1]
    assert checks["tls-name"][0] == "warn"
    assert checks["tls-expiry"][0] == "warn"


@pytest.mark.parametrize("fatal", [True, False])
def test_no_handshake_is_a_failure_at_once_for_a_preflight(fatal: bool) -> None:
    facts = dataclasses.replace(
        FACTS, verified=False, peer=None, fatal=fatal, error="Connection refused"
    )

    checks = by_name(facts)

    assert list(checks) == ["tls-certificate", "tls-client"]
    assert checks["tls-certificate"][0] == "fail"
    assert (
        "no TLS handshake with https://127.0.0.1:8200: Connection refused"
        in checks["tls-certificate"][1]
    )


def test_a_client_certificate_in_use_is_named_with_its_validity() -> None:
    client = dataclasses.replace(PEER, subject="CN=vsi-injector-client", names=())
    expired = dataclasses.replace(client, not_after=NOW - dt.timedelta(seconds=1))

    ok = by_name(dataclasses.replace(FACTS, client=client))["tls-client"]
    failed = by_name(dataclasses.replace(FACTS, client=expired))["tls-client"]

    assert ok[0] == "ok"
    assert ok[1].startswith("in use: CN=vsi-injector-client, issued by CN=vault-storage-injector")
    assert failed[0] == "fail"
    assert "expired on" in failed[1]


def test_parse_certificate_reads_subject_issuer_key_id_validity_and_names() -> None:
    ca_key, ca = make_ca(days=10, now=NOW)
    _key, leaf = make_leaf(ca_key, ca, ["vault", "127.0.0.1"], days=5, now=NOW)
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest

    from_der = parse_certificate(leaf.public_bytes(serialization.Encoding.DER))
    from_pem = parse_certificate(leaf.public_bytes(serialization.Encoding.PEM), pem=True)

    assert from_der == from_pem
    assert from_der.subject == "CN=vault"
    assert from_der.issuer == ca.subject.rfc4514_string()
    assert from_der.issuer_key_id == key_id(ski)
    assert from_der.not_after == NOW + dt.timedelta(days=5)
    assert from_der.names == ("vault", "127.0.0.1")
    assert key_id(b"\x01\xab") == "01:AB"
