"""The transport's set-up: one origin, safe request paths, TLS files read safely (no server)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.generate import generate
from injector.errors import VaultError
from injector.redact import Redactor
from injector.settings.model import TlsSettings, TokenAuth, VaultSettings
from injector.vault.tls import build_ssl_context
from injector.vault.transport import Transport

NO_TLS = TlsSettings(None, None, None, None, None, False)


def vault_settings(addr: str, tls: TlsSettings = NO_TLS) -> VaultSettings:
    return VaultSettings(addr, TokenAuth("t"), "token", "secret", 2, None, tls)


@pytest.mark.parametrize(
    ("addr", "origin", "target"),
    [
        ("https://vault.example", "https://vault.example:443", "/v1/secret/data/a"),
        ("http://10.0.0.1:8200", "http://10.0.0.1:8200", "/v1/secret/data/a"),
        ("https://lb.example:8443/vault", "https://lb.example:8443", "/vault/v1/secret/data/a"),
        ("http://[::1]:8200", "http://[::1]:8200", "/v1/secret/data/a"),
    ],
)
def test_every_request_goes_to_the_origin_of_vault_addr(
    addr: str, origin: str, target: str
) -> None:
    transport = Transport(vault_settings(addr), Redactor())

    assert transport.origin == origin
    assert transport.url_path("secret/data/a") == target
    transport.close()


@pytest.mark.parametrize(
    "path",
    ["../sys/raw", "a/../b", "a//b", "http://evil/x", "a?b=c", "a#b", "a b", "a%2Fb", "@evil/x/.."],
)
def test_a_path_that_could_leave_the_api_is_refused(path: str) -> None:
    transport = Transport(vault_settings("http://127.0.0.1:1"), Redactor())

    with pytest.raises(VaultError, match="unsafe path"):
        transport.url_path(path)


def test_http_is_allowed_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        Transport(vault_settings("http://127.0.0.1:1"), Redactor()).close()

    assert any("VAULT_ADDR uses http://" in r.getMessage() for r in caplog.records)


def test_https_logs_no_clear_text_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        Transport(vault_settings("https://127.0.0.1:1"), Redactor()).close()

    assert not caplog.records


def tls(**kw: Path | bool | None) -> TlsSettings:
    fields: dict[str, object] = {
        "cacert": None,
        "capath": None,
        "client_cert": None,
        "client_key": None,
        "server_name": None,
        "skip_verify": False,
    }
    fields.update(kw)
    return TlsSettings(**fields)  # type: ignore[arg-type]  # the test fills every field


def test_a_fifo_at_the_ca_path_fails_at_once_instead_of_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "ca.crt"
    os.mkfifo(fifo)

    with pytest.raises(VaultError, match=r"VAULT_CACERT: .*ca.crt is a FIFO"):
        build_ssl_context(tls(cacert=fifo))


def test_a_huge_file_at_the_ca_path_is_not_read(tmp_path: Path) -> None:
    big = tmp_path / "ca.crt"
    with big.open("wb") as f:
        f.truncate(64 * 1024 * 1024)

    with pytest.raises(VaultError, match="larger than"):
        build_ssl_context(tls(cacert=big))


def test_a_ca_file_without_a_certificate_is_named(tmp_path: Path) -> None:
    junk = tmp_path / "ca.crt"
    junk.write_text("not a certificate\n")

    with pytest.raises(VaultError, match=r"VAULT_CACERT: .*holds no usable PEM certificate"):
        build_ssl_context(tls(cacert=junk))


def test_a_fifo_in_a_ca_directory_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "0123abcd.0")

    with pytest.raises(VaultError, match=r"VAULT_CAPATH: .*0123abcd.0 is not a regular file"):
        build_ssl_context(tls(capath=tmp_path))


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    generate(tmp_path, "vault", "vault")
    return tmp_path


def test_a_client_pair_is_loaded_from_the_bytes_that_were_checked(pki: Path) -> None:
    context = build_ssl_context(
        tls(cacert=pki / "ca.crt", client_cert=pki / "tls.crt", client_key=pki / "tls.key")
    )

    assert context.verify_mode.name == "CERT_REQUIRED"


def test_an_encrypted_client_key_is_refused_without_prompting(pki: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    locked = pki / "locked.key"
    locked.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )

    with pytest.raises(VaultError, match=r"VAULT_CLIENT_KEY: .*is encrypted"):
        build_ssl_context(tls(client_cert=pki / "tls.crt", client_key=locked))


def test_a_client_key_that_does_not_match_its_certificate_is_named(pki: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    wrong = pki / "wrong.key"
    wrong.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    with pytest.raises(VaultError, match="VAULT_CLIENT_CERT/VAULT_CLIENT_KEY: cannot use"):
        build_ssl_context(tls(client_cert=pki / "tls.crt", client_key=wrong))


def test_skip_verify_turns_verification_off_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        Transport(vault_settings("https://127.0.0.1:1", tls(skip_verify=True)), Redactor()).close()

    assert any("NOT verified" in r.getMessage() for r in caplog.records)
