"""TLS to the real OpenBao: CA file, CA directory, mutual TLS, VAULT_TLS_SERVER_NAME, wrong CA."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import hvac
import pytest

from certs.generate import generate
from demo.openbao import TLS_SERVER_NAME, OpenBao
from tests.integration.injector.conftest import run_injector, stored_volume_key

ARGS = ("--layout", "volume-keys", "--volume")


def _run(openbao: OpenBao, out_dir: Path, volume: str, **env: str) -> tuple[int, str]:
    result = run_injector(
        openbao.env(VSI_NAMESPACE="tls", **env), *ARGS, volume, "--output-dir", out_dir
    )
    return result.code, result.output


def test_https_with_a_ca_file(openbao: OpenBao, root_client: hvac.Client, out_dir: Path) -> None:
    code, output = _run(
        openbao,
        out_dir,
        "ca-file",
        VAULT_ADDR=openbao.https_addr,
        VAULT_CACERT=str(openbao.ca_cert),
    )

    assert code == 0, output
    assert (out_dir / "ca-file").read_bytes() == stored_volume_key(
        root_client, "secret", 2, "tls", "ca-file"
    )


def test_https_with_a_hash_named_ca_directory(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path, tmp_path: Path
) -> None:
    # OpenSSL's CApath lookup wants <subject-hash>.0 entries; openssl computes the real hash.
    subject_hash = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(openbao.ca_cert)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ca_dir = tmp_path / "cas"
    ca_dir.mkdir()
    shutil.copy(openbao.ca_cert, ca_dir / "vault-ca.pem")
    os.symlink("vault-ca.pem", ca_dir / f"{subject_hash}.0")

    code, output = _run(
        openbao, out_dir, "ca-dir", VAULT_ADDR=openbao.https_addr, VAULT_CAPATH=str(ca_dir)
    )

    assert code == 0, output
    assert (out_dir / "ca-dir").read_bytes() == stored_volume_key(
        root_client, "secret", 2, "tls", "ca-dir"
    )


def test_mutual_tls_with_a_client_certificate(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path
) -> None:
    code, output = _run(
        openbao,
        out_dir,
        "mtls",
        VAULT_ADDR=openbao.mtls_addr,
        VAULT_CACERT=str(openbao.ca_cert),
        VAULT_CLIENT_CERT=str(openbao.client_cert),
        VAULT_CLIENT_KEY=str(openbao.client_key),
    )

    assert code == 0, output
    assert (out_dir / "mtls").read_bytes() == stored_volume_key(
        root_client, "secret", 2, "tls", "mtls"
    )


def test_mutual_tls_listener_refuses_a_run_without_client_certificate(
    openbao: OpenBao, out_dir: Path
) -> None:
    code, output = _run(
        openbao,
        out_dir,
        "no-cert",
        VAULT_ADDR=openbao.mtls_addr,
        VAULT_CACERT=str(openbao.ca_cert),
        VSI_DEADLINE="3",
    )

    assert code == 1
    assert "127.0.0.1" in output
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("server_name", "ok"), [(TLS_SERVER_NAME, True), ("not-in-the-cert.test", False)]
)
def test_tls_server_name_is_what_gets_verified(
    openbao: OpenBao, out_dir: Path, server_name: str, ok: bool
) -> None:
    code, output = _run(
        openbao,
        out_dir,
        "sni",
        VAULT_ADDR=openbao.https_addr,
        VAULT_CACERT=str(openbao.ca_cert),
        VAULT_TLS_SERVER_NAME=server_name,
        VSI_DEADLINE="3",
    )

    assert (code == 0) is ok, output
    if not ok:
        assert "TLS error" in output
        assert "VAULT_TLS_SERVER_NAME" in output
        assert list(out_dir.iterdir()) == []


def test_wrong_ca_fails_fast_with_a_tls_error_and_no_key_file(
    openbao: OpenBao, out_dir: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca"
    generate(other, "other", "other")
    started = time.monotonic()

    code, output = _run(
        openbao,
        out_dir,
        "wrong-ca",
        VAULT_ADDR=openbao.https_addr,
        VAULT_CACERT=str(other / "ca.crt"),
        VSI_DEADLINE="3",
    )

    assert code == 1
    assert time.monotonic() - started < 3 + 5  # the deadline plus interpreter start-up
    assert "certificate verify failed" in output
    assert list(out_dir.iterdir()) == []


def test_skip_verify_is_allowed_and_logged_loudly(openbao: OpenBao, out_dir: Path) -> None:
    code, output = _run(
        openbao, out_dir, "insecure", VAULT_ADDR=openbao.https_addr, VAULT_SKIP_VERIFY="true"
    )

    assert code == 0, output
    assert '"level":"warning"' in output
    assert "NOT verified" in output
    assert all(line.startswith("{") for line in output.splitlines())  # no raw Python warnings
