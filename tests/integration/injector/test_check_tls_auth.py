"""``--check`` on the connection: TLS facts of the real OpenBao listeners, and each auth method.

The certificate report comes from a real handshake (HTTPS and mutual-TLS listeners, certificates
made by the certs package); a wrong CA is named by the issuer Vault's certificate carries, and the
audit log proves nothing reached Vault. Each auth method is checked with its secret scanned for.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import hvac
import kmock
import pytest
from cryptography import x509

from certs.generate import generate
from demo.openbao import TLS_SERVER_NAME, OpenBao
from injector.check import preflight
from injector.check.tls import key_id
from injector.settings.flags import Flags, build_settings
from injector.settings.model import KubernetesAuth
from tests.integration.injector.auth_support import (
    FAKE_JWT,
    approle,
    bound_role,
    create_read_policy,
    kubernetes_auth,
    kubernetes_env,
)
from tests.integration.injector.check_support import AuditedOpenBao, assert_no_secrets, run_check
from tests.integration.injector.conftest import enable_kv
from tests.unit.injector.support import NO_SA
from vsi_common import report
from vsi_common.report import Check

ARGS = ("--layout", "volume-keys", "--volume", "v")


def _ca(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_a_wrong_ca_fails_naming_the_issuer_seen_and_sends_nothing_to_vault(
    audited: AuditedOpenBao, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca"
    generate(other, "other", "other")
    vault_ca, wrong_ca = _ca(audited.ca_cert), _ca(other / "ca.crt")
    seen = key_id(
        vault_ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    held = key_id(
        wrong_ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    env = audited.env(
        VAULT_ADDR=audited.https_addr, VAULT_CACERT=str(other / "ca.crt"), VSI_NAMESPACE="ns"
    )
    offset = audited.audit_offset()

    checked = run_check(env, *ARGS)

    assert checked.result.code == 1
    detail = checked.detail("tls-certificate")
    assert checked.status("tls-certificate") == "fail"
    assert detail.startswith("certificate verify failed: unable to get local issuer certificate")
    assert f"issued by {vault_ca.subject.rfc4514_string()} (key id {seen})" in detail
    assert f"VAULT_CACERT {other / 'ca.crt'} holds" in detail
    assert held in detail
    assert checked.fix("tls-certificate") == (
        "set VAULT_CACERT (or VAULT_CAPATH) to the CA that issued it: "
        f"{vault_ca.subject.rfc4514_string()}, key id {seen}"
    )
    assert "auth" not in checked.checks  # nothing is sent once TLS fails
    assert audited.requests_since(offset) == []
    assert_no_secrets(checked.result, audited.root_token)


def test_a_verified_https_connection_reports_issuer_name_expiry_and_no_client_auth(
    openbao: OpenBao,
) -> None:
    env = openbao.env(
        VAULT_ADDR=openbao.https_addr, VAULT_CACERT=str(openbao.ca_cert), VSI_NAMESPACE="ns"
    )

    checked = run_check(env, *ARGS)

    assert checked.result.code == 0, checked.result.output
    assert checked.status("tls-certificate") == "ok"
    issuer = _ca(openbao.ca_cert).subject.rfc4514_string()
    assert checked.detail("tls-certificate").startswith(f"CN=vault, issued by {issuer}")
    assert f"verified with VAULT_CACERT {openbao.ca_cert}" in checked.detail("tls-certificate")
    assert checked.detail("tls-name").startswith(
        "127.0.0.1 (the VAULT_ADDR host) is in the certificate: vault,"
    )
    assert checked.status("tls-expiry") == "ok"
    assert checked.detail("tls-client") == "no client certificate (VAULT_CLIENT_CERT unset)"
    assert "tls" not in checked.checks


@pytest.mark.parametrize(("name", "status"), [(TLS_SERVER_NAME, "ok"), ("elsewhere.test", "fail")])
def test_the_name_checked_is_vault_tls_server_name_when_set(
    openbao: OpenBao, name: str, status: str
) -> None:
    env = openbao.env(
        VAULT_ADDR=openbao.https_addr,
        VAULT_CACERT=str(openbao.ca_cert),
        VAULT_TLS_SERVER_NAME=name,
        VSI_NAMESPACE="ns",
    )

    checked = run_check(env, *ARGS)

    assert checked.status("tls-name") == status
    assert f"{name} (VAULT_TLS_SERVER_NAME)" in checked.detail("tls-name")
    if status == "fail":
        assert checked.status("tls-certificate") == "ok"  # the chain was fine, the name was not
        assert "VAULT_TLS_SERVER_NAME" in checked.fix("tls-name")
        assert "auth" not in checked.checks


def test_mutual_tls_names_the_client_certificate_in_use(openbao: OpenBao) -> None:
    env = openbao.env(
        VAULT_ADDR=openbao.mtls_addr,
        VAULT_CACERT=str(openbao.ca_cert),
        VAULT_CLIENT_CERT=str(openbao.client_cert),
        VAULT_CLIENT_KEY=str(openbao.client_key),
        VSI_NAMESPACE="ns",
    )

    checked = run_check(env, *ARGS)

    assert checked.result.code == 0, checked.result.output
    assert checked.detail("tls-client").startswith("in use: CN=vsi-injector-client, issued by")
    assert checked.status("auth") == "ok"
    assert_no_secrets(checked.result, openbao.client_key.read_text(), openbao.root_token)


def test_a_mutual_tls_listener_without_a_client_certificate_fails_the_login(
    openbao: OpenBao,
) -> None:
    env = openbao.env(
        VAULT_ADDR=openbao.mtls_addr,
        VAULT_CACERT=str(openbao.ca_cert),
        VSI_NAMESPACE="ns",
        VSI_DEADLINE="5",
    )

    checked = run_check(env, *ARGS)

    assert checked.result.code == 1
    assert checked.status("auth") == "fail"
    assert "VAULT_CLIENT_CERT/VAULT_CLIENT_KEY" in checked.fix("auth")


def test_skip_verify_is_a_warning_that_still_names_the_issuer(openbao: OpenBao) -> None:
    env = openbao.env(VAULT_ADDR=openbao.https_addr, VAULT_SKIP_VERIFY="true", VSI_NAMESPACE="ns")

    checked = run_check(env, *ARGS)

    assert checked.result.code == 0, checked.result.output
    assert checked.status("tls-certificate") == "warn"
    assert "not verified (VAULT_SKIP_VERIFY): CN=vault, issued by" in checked.detail(
        "tls-certificate"
    )


def test_an_approle_check_logs_in_and_never_shows_the_secret_id(
    openbao: OpenBao, root_client: hvac.Client
) -> None:
    mount = enable_kv(root_client, 2)
    policy = create_read_policy(root_client, f"{mount}/data/*")
    role = approle(root_client, "injector", policy)
    env = role.env(openbao, VAULT_BACKEND_PATH=mount, VSI_NAMESPACE="ns")

    checked = run_check(env, *ARGS)

    assert checked.result.code == 0, checked.result.output
    assert checked.detail("auth").startswith(f"approle login at auth/{role.mount}; token policies:")
    assert policy in checked.detail("auth")
    assert_no_secrets(checked.result, role.secret_id, role.role_id)


async def test_a_kubernetes_check_never_shows_the_jwt_and_a_rejected_login_names_the_role(
    openbao: OpenBao, root_client: hvac.Client, tmp_path: Path, kmock: kmock.KubernetesEmulator
) -> None:
    from tests.integration.injector.conftest import run_injector_async

    mount = enable_kv(root_client, 2)
    policy = create_read_policy(root_client, f"{mount}/data/*")
    auth_mount = kubernetes_auth(openbao, root_client, kmock, bound_role(policy))
    jwt_file = tmp_path / "token"
    env = kubernetes_env(
        openbao,
        jwt_file,
        auth_mount,
        VAULT_BACKEND_PATH=mount,
        VSI_NAMESPACE="ns",
        VSI_DEADLINE="5",
    )
    rejected = FAKE_JWT[:-4] + "AAAA"

    jwt_file.write_text(FAKE_JWT)
    good = await run_injector_async(env, "--check", "-o", "json", *ARGS)
    jwt_file.write_text(rejected)
    bad = await run_injector_async(env, "--check", "-o", "json", *ARGS)

    assert good.code == 0, good.output
    assert f"kubernetes login at auth/{auth_mount} as role 'osd'" in good.stdout
    assert bad.code == 1
    assert f"auth/{auth_mount}/role/osd must bind this service account" in bad.stdout
    assert_no_secrets(good, FAKE_JWT)
    assert_no_secrets(bad, rejected)


async def test_in_process_the_check_takes_a_jwt_held_in_memory_and_prints_nothing(
    openbao: OpenBao,
    root_client: hvac.Client,
    kmock: kmock.KubernetesEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What ``vsi-webhook doctor --vault`` does: settings built in-process, a TokenRequest's JWT."""
    mount = enable_kv(root_client, 2)
    policy = create_read_policy(root_client, f"{mount}/data/*")
    auth_mount = kubernetes_auth(openbao, root_client, kmock, bound_role(policy))
    env = {
        "VAULT_ADDR": openbao.addr,
        "VAULT_TOKEN": "placeholder-replaced-below",
        "VAULT_BACKEND_PATH": mount,
        "VSI_NAMESPACE": "ns",
    }
    settings = build_settings(
        Flags(layout="volume-keys", volume=["v"]), env, check=True, service_account_dir=NO_SA
    )
    auth = KubernetesAuth(role="osd", jwt_path=Path("TokenRequest"), mount=auth_mount, jwt=FAKE_JWT)
    vault = dataclasses.replace(settings.vault, auth=auth, auth_method="kubernetes")
    settings = dataclasses.replace(settings, vault=vault)

    checks = await asyncio.to_thread(preflight.check, settings)

    by_name = {c.name: c for c in checks}
    assert all(isinstance(c, Check) for c in checks)
    assert by_name["auth"].status == "ok"
    assert by_name["key:v"].detail.startswith(f"no key at {mount}/data/vault-storage-injector")
    assert report.exit_code(checks) == 0
    assert capsys.readouterr() == ("", "")
    assert FAKE_JWT not in repr(auth)
    assert all(FAKE_JWT[:20] not in c.detail + c.fix for c in checks)
