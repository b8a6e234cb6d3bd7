"""Admission warnings name every key the chosen auth method and the TLS files need."""

from __future__ import annotations

import pytest

from tests.unit.webhook.support import StaticCluster
from webhook.core.config import parse_config
from webhook.core.profiles import Profile
from webhook.core.warnings import secret_warnings

NS = "kube-system"


def _profile(connection: str) -> Profile:
    profile = f"{{name: p, type: portworx, connection: {connection}}}"
    config = parse_config(f"builtinProfiles: false\nprofiles: [{profile}]", source="t")
    return config.profiles[0]


def _warnings(profile: Profile, **secrets: list[str]) -> list[str]:
    cluster = StaticCluster(secrets={f"{NS}/{name}": keys for name, keys in secrets.items()})
    return secret_warnings(profile, NS, cluster)


PX = _profile("{secret: px-vault}")
PREFIX = f"Secret px-vault in namespace {NS}"


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["VAULT_ADDR", "VAULT_TOKEN"], []),
        (["VAULT_ADDR", "VAULT_AUTH_METHOD", "VAULT_AUTH_KUBERNETES_ROLE"], []),
        (
            ["VAULT_ADDR", "VAULT_AUTH_METHOD", "VAULT_APPROLE_ROLE_ID", "VAULT_APPROLE_SECRET_ID"],
            [],
        ),
        (
            ["VAULT_TOKEN"],
            [f"{PREFIX} has no key VAULT_ADDR"],
        ),
        (
            # The 000 document's kubernetes Secret without VAULT_AUTH_METHOD: token auth then.
            ["VAULT_ADDR", "VAULT_AUTH_KUBERNETES_ROLE"],
            [f"{PREFIX} has no key VAULT_TOKEN (token auth: no VAULT_AUTH_METHOD)"],
        ),
        (
            ["VAULT_ADDR", "VAULT_AUTH_METHOD", "VAULT_APPROLE_ROLE_ID"],
            [f"{PREFIX} has no key VAULT_APPROLE_SECRET_ID (approle)"],
        ),
        (
            ["VAULT_ADDR", "VAULT_AUTH_METHOD", "VAULT_BACKEND_PATH"],
            [f"{PREFIX} has no VAULT_TOKEN, VAULT_AUTH_KUBERNETES_ROLE nor AppRole ids"],
        ),
    ],
)
def test_a_px_vault_secret_is_checked_for_the_keys_of_its_auth_method(
    keys: list[str], expected: list[str]
) -> None:
    assert _warnings(PX, **{"px-vault": keys}) == expected


def test_every_warning_fits_the_admission_warning_limit() -> None:
    cases = [
        ["VAULT_ADDR", "VAULT_AUTH_METHOD"],
        ["VAULT_ADDR", "VAULT_AUTH_KUBERNETES_ROLE"],
        ["VAULT_ADDR", "VAULT_AUTH_METHOD", "VAULT_APPROLE_ROLE_ID"],
    ]
    for keys in cases:
        for warning in _warnings(PX, **{"px-vault": keys}):
            assert len(warning) <= 120, warning


def test_the_token_secret_needs_its_token_key_for_token_auth_only() -> None:
    token = _profile("{values: {VAULT_ADDR: 'https://v'}, tokenSecret: vt}")
    k8s = _profile(
        "{values: {VAULT_ADDR: 'https://v', VAULT_AUTH_METHOD: kubernetes,"
        " VAULT_AUTH_KUBERNETES_ROLE: r}, tokenSecret: vt}"
    )
    assert _warnings(token, vt=["other"]) == [f"Secret vt in namespace {NS} has no key token"]
    assert _warnings(k8s, vt=["other"]) == []


def test_a_tls_secret_lacking_a_declared_file_or_half_a_pair_is_named() -> None:
    declared = _profile(
        "{secret: px-vault, tlsSecret: {name: tls, keys: [ca.crt, tls.crt, tls.key]}}"
    )
    default = _profile("{secret: px-vault, tlsSecret: tls}")
    px = {"px-vault": ["VAULT_ADDR", "VAULT_TOKEN"]}
    tls = f"Secret tls in namespace {NS}"
    assert _warnings(declared, tls=["ca.crt", "tls.crt"], **px) == [
        f"{tls} has no key tls.key (VAULT_CLIENT_KEY)"
    ]
    assert _warnings(default, tls=["ca.crt", "tls.crt"], **px) == [
        f"{tls} has tls.crt but no tls.key; the client certificate is not used"
    ]
    assert _warnings(default, tls=["tls.crt", "tls.key"], **px) == [
        f"{tls} has no key ca.crt (VAULT_CACERT)"
    ]
    assert _warnings(default, **px) == [
        f"Secret tls not found in namespace {NS}; Vault connection will fail"
    ]


def test_rooks_tls_secrets_are_each_checked_for_their_key() -> None:
    rook = _profile(
        "{kms: {connectionDetails: {KMS_PROVIDER: vault, VAULT_ADDR: 'https://v',"
        " VAULT_CACERT: ca, VAULT_CLIENT_CERT: crt, VAULT_CLIENT_KEY: key},"
        " tokenSecretName: tok}}"
    )
    found = _warnings(rook, ca=["cert"], crt=["tls.crt"], tok=["token"])
    assert found == [
        f"Secret crt in namespace {NS} has no key cert (VAULT_CLIENT_CERT)",
        f"Secret key not found in namespace {NS}; Vault connection will fail",
    ]


def test_nothing_is_said_without_a_cache_or_about_unwatched_secrets() -> None:
    assert secret_warnings(PX, NS, None) == []
    assert secret_warnings(PX, NS, StaticCluster(watched=False)) == []
