"""VAULT_* parsing: a bad value is one line naming the variable, before any network call."""

from __future__ import annotations

from pathlib import Path

import pytest

from injector.errors import SettingsError
from injector.settings.model import AppRoleAuth, KubernetesAuth
from injector.settings.vault_env import parse_vault
from tests.unit.injector.support import NO_SA, base_env


def test_auth_methods_and_kv_backend_spellings(tmp_path: Path) -> None:
    jwt = tmp_path / "jwt"
    jwt.write_text("a.b.c")
    k8s = base_env(
        tmp_path,
        VAULT_AUTH_METHOD="kubernetes",
        VAULT_AUTH_KUBERNETES_ROLE="osd",
        VAULT_AUTH_KUBERNETES_TOKEN_PATH=str(jwt),
        VAULT_BACKEND="v1",
    )
    approle = base_env(
        tmp_path,
        VAULT_AUTH_METHOD="approle",
        VAULT_APPROLE_ROLE_ID="r",
        VAULT_APPROLE_SECRET_ID="s",
        VAULT_BACKEND="kv-v2",
    )

    k8s_settings = parse_vault(k8s, NO_SA)
    approle_settings = parse_vault(approle, NO_SA)

    assert k8s_settings.auth == KubernetesAuth(role="osd", jwt_path=jwt, mount="kubernetes")
    assert k8s_settings.kv_version == 1
    assert isinstance(approle_settings.auth, AppRoleAuth)
    assert approle_settings.auth.mount == "approle"
    assert approle_settings.kv_version == 2


BAD = [
    ({"VAULT_ADDR": ""}, "VAULT_ADDR: required"),
    ({"VAULT_ADDR": "vault:8200"}, "VAULT_ADDR: expected an http or https URL"),
    ({"VAULT_ADDR": "http://h:port"}, "VAULT_ADDR: port must be 1-65535, got 'port'"),
    ({"VAULT_TOKEN": ""}, "VAULT_TOKEN: no credentials"),
    ({"VAULT_TOKEN": "has space"}, "VAULT_TOKEN: expected printable characters"),
    ({"VAULT_AUTH_METHOD": "ldap"}, "VAULT_AUTH_METHOD: expected token, kubernetes or approle"),
    ({"VAULT_AUTH_METHOD": "kubernetes"}, "VAULT_AUTH_KUBERNETES_ROLE: required"),
    (
        {"VAULT_AUTH_METHOD": "kubernetes", "VAULT_AUTH_KUBERNETES_ROLE": "r"},
        "VAULT_AUTH_KUBERNETES_TOKEN_PATH: unset, and the pod's token",
    ),
    ({"VAULT_AUTH_METHOD": "approle"}, "VAULT_APPROLE_ROLE_ID: required"),
    ({"VAULT_BACKEND": "kv3"}, "VAULT_BACKEND: expected kv, kv-v2, v1 or v2"),
    ({"VAULT_BACKEND_PATH": "a/../b"}, "VAULT_BACKEND_PATH: expected a mount path"),
    ({"VAULT_SECRET_ENGINE": "transit"}, "VAULT_SECRET_ENGINE: transit keeps keys inside Vault"),
    ({"VAULT_SECRET_ENGINE": "foo"}, "VAULT_SECRET_ENGINE: expected kv"),
    ({"VAULT_BACKEND": "1"}, "VAULT_BACKEND: expected kv, kv-v2, v1 or v2"),
    ({"VAULT_ADDR": "https://vault:0"}, "VAULT_ADDR: port must be 1-65535, got '0'"),
    ({"VAULT_ADDR": "https://vault:65536"}, "VAULT_ADDR: port must be 1-65535, got '65536'"),
    ({"VAULT_ADDR": "https://vault:99999"}, "VAULT_ADDR: port must be 1-65535, got '99999'"),
    ({"VAULT_SKIP_VERIFY": "yes"}, "VAULT_SKIP_VERIFY: expected true or false (Go's spellings"),
    ({"VAULT_CLIENT_TIMEOUT": "soon"}, "VAULT_CLIENT_TIMEOUT: expected whole seconds or a Go"),
    ({"VAULT_CLIENT_TIMEOUT": "-5"}, "VAULT_CLIENT_TIMEOUT: expected whole seconds or a Go"),
    ({"VAULT_MAX_RETRIES": "-1"}, "VAULT_MAX_RETRIES: expected a whole number from 0 to"),
    ({"VAULT_MAX_RETRIES": "4294967296"}, "VAULT_MAX_RETRIES: expected a whole number from 0"),
    ({"VAULT_CACERT": "/no/such/ca.pem"}, "VAULT_CACERT: expected a readable file"),
    ({"VAULT_CAPATH": "/no/such/dir"}, "VAULT_CAPATH: expected a directory"),
    ({"VAULT_CLIENT_CERT": "/etc/hostname"}, "VAULT_CLIENT_KEY: required when the other half"),
    ({"VAULT_TLS_SERVER_NAME": "bad name"}, "VAULT_TLS_SERVER_NAME: expected a DNS name"),
    ({"VAULT_SKIP_VERIFY": "maybe"}, "VAULT_SKIP_VERIFY: expected true or false"),
    ({"VAULT_ADDR": "https://[::1"}, "VAULT_ADDR: expected an http or https URL"),
    ({"VAULT_ADDR": "https://va ult:8200"}, "VAULT_ADDR: expected a DNS name or IP address"),
    ({"VAULT_ADDR": "https://vault%20x"}, "VAULT_ADDR: expected a DNS name or IP address"),
]


@pytest.mark.parametrize(
    ("override", "timeout", "retries"),
    [
        ({}, None, None),
        ({"VAULT_CLIENT_TIMEOUT": "45", "VAULT_MAX_RETRIES": "0"}, 45.0, 0),
        ({"VAULT_CLIENT_TIMEOUT": "1m30s", "VAULT_MAX_RETRIES": "3"}, 90.0, 3),
        ({"VAULT_CLIENT_TIMEOUT": "0"}, None, None),
        ({"VAULT_CLIENT_TIMEOUT": "250ms"}, 0.25, None),
    ],
)
def test_client_timeout_and_max_retries_as_vaults_go_client_reads_them(
    tmp_path: Path, override: dict[str, str], timeout: float | None, retries: int | None
) -> None:
    settings = parse_vault(base_env(tmp_path, **override), NO_SA)

    assert (settings.client_timeout, settings.max_retries) == (timeout, retries)


@pytest.mark.parametrize("word", ["1", "t", "T", "TRUE", "true", "True"])
def test_vault_skip_verify_takes_gos_true_spellings(tmp_path: Path, word: str) -> None:
    assert parse_vault(base_env(tmp_path, VAULT_SKIP_VERIFY=word), NO_SA).tls.skip_verify


@pytest.mark.parametrize(("override", "message"), BAD)
def test_bad_vault_setting_is_one_line_naming_it(
    tmp_path: Path, override: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_vault(base_env(tmp_path, **override), NO_SA)

    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "addr",
    [
        "https://admin:hunter2@vault:82x0",  # a bad port after the password
        "htps://admin:hunter2@vault:8200",  # a bad scheme
        "https://admin:hunter2@[::1",  # what urlsplit refuses
        "https://admin:hunter2@vault:8200",
    ],
)
def test_a_password_in_vault_addr_is_refused_and_never_quoted(tmp_path: Path, addr: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_vault(base_env(tmp_path, VAULT_ADDR=addr), NO_SA)

    assert "without user" in str(raised.value)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    "addr", ["https://[::1]:8200", "http://10.0.0.7:8200", "https://vault.vault.svc.", "http://v_1"]
)
def test_vault_addr_accepts_dns_names_and_ip_addresses(tmp_path: Path, addr: str) -> None:
    settings = parse_vault(base_env(tmp_path, VAULT_ADDR=addr), NO_SA)

    assert settings.addr == addr
