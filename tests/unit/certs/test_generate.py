"""The certs package: what a kube-apiserver and Python's ssl accept, and what re-runs keep."""

from __future__ import annotations

import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certs import generate
from certs.pki import load_cert, san_names, signed_by

SERVICE, NAMESPACE = "vsi-webhook", "vsi-system"
EXPECTED_NAMES = {
    "vsi-webhook",
    "vsi-webhook.vsi-system",
    "vsi-webhook.vsi-system.svc",
    "vsi-webhook.vsi-system.svc.cluster.local",
}


def _cert(path: Path) -> x509.Certificate:
    cert = load_cert(path.read_bytes())
    assert cert is not None
    return cert


def test_generate_writes_ca_and_leaf_for_every_service_name(tmp_path: Path) -> None:
    result = generate(tmp_path, SERVICE, NAMESPACE, extra_sans=["webhook.example.com", "127.0.0.1"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.crt", "ca.key", "tls.crt", "tls.key"]
    leaf, ca = _cert(tmp_path / "tls.crt"), _cert(tmp_path / "ca.crt")
    assert san_names(leaf) == EXPECTED_NAMES | {"webhook.example.com", "127.0.0.1"}
    assert signed_by(leaf, ca)
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert leaf.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert not result.ca_reused
    assert not result.leaf_reused


def test_key_files_are_private_and_not_before_is_backdated(tmp_path: Path) -> None:
    generate(tmp_path, SERVICE, NAMESPACE)
    for name in ("ca.key", "tls.key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    leaf = _cert(tmp_path / "tls.crt")
    skew = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    # 365 days from now, plus the few minutes NotBefore lies in the past.
    assert 365 * 86400 < skew.total_seconds() <= 365 * 86400 + 600


def test_validity_follows_days_and_ca_days(tmp_path: Path) -> None:
    generate(tmp_path, SERVICE, NAMESPACE, days=7, ca_days=30)
    leaf, ca = _cert(tmp_path / "tls.crt"), _cert(tmp_path / "ca.crt")
    assert (
        round((leaf.not_valid_after_utc - leaf.not_valid_before_utc).total_seconds() / 86400) == 7
    )
    assert round((ca.not_valid_after_utc - ca.not_valid_before_utc).total_seconds() / 86400) == 30


def test_leaf_never_outlives_its_ca(tmp_path: Path) -> None:
    generate(tmp_path, SERVICE, NAMESPACE, days=400, ca_days=10)
    assert (
        _cert(tmp_path / "tls.crt").not_valid_after_utc
        <= _cert(tmp_path / "ca.crt").not_valid_after_utc
    )


def test_second_run_keeps_ca_and_leaf(tmp_path: Path) -> None:
    generate(tmp_path, SERVICE, NAMESPACE)
    ca_before, leaf_before = (tmp_path / "ca.crt").read_bytes(), (tmp_path / "tls.crt").read_bytes()
    result = generate(tmp_path, SERVICE, NAMESPACE)
    assert result.ca_reused
    assert result.leaf_reused
    assert (tmp_path / "ca.crt").read_bytes() == ca_before
    assert (tmp_path / "tls.crt").read_bytes() == leaf_before


def test_rotate_makes_a_new_leaf_under_the_same_ca(tmp_path: Path) -> None:
    generate(tmp_path, SERVICE, NAMESPACE)
    ca_before = (tmp_path / "ca.crt").read_bytes()
    serial_before = _cert(tmp_path / "tls.crt").serial_number
    result = generate(tmp_path, SERVICE, NAMESPACE, rotate=True)
    assert result.ca_reused
    assert not result.leaf_reused
    assert (tmp_path / "ca.crt").read_bytes() == ca_before
    assert _cert(tmp_path / "tls.crt").serial_number != serial_before
    assert signed_by(_cert(tmp_path / "tls.crt"), _cert(tmp_path / "ca.crt"))


def test_new_san_makes_a_new_leaf_but_keeps_the_ca(tmp_path: Path) -> None:
    generate(tmp_path, SERVICE, NAMESPACE)
    ca_before = (tmp_path / "ca.crt").read_bytes()
    result = generate(tmp_path, SERVICE, NAMESPACE, extra_sans=["extra.example.com"])
    assert result.ca_reused
    assert not result.leaf_reused
    assert "extra.example.com" in san_names(_cert(tmp_path / "tls.crt"))
    assert (tmp_path / "ca.crt").read_bytes() == ca_before


def test_corrupt_ca_is_replaced(tmp_path: Path) -> None:
    generate(tmp_path, SERVICE, NAMESPACE)
    (tmp_path / "ca.crt").write_text("not a certificate")
    result = generate(tmp_path, SERVICE, NAMESPACE)
    assert not result.ca_reused
    assert signed_by(_cert(tmp_path / "tls.crt"), _cert(tmp_path / "ca.crt"))


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A TLS server on loopback that serves the generated leaf and answers every handshake."""
    generate(tmp_path, SERVICE, NAMESPACE)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, tmp_path / "ca.crt"
    stop.set()
    thread.join(timeout=5)
    listener.close()


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_python_ssl_verifies_every_san_against_the_ca(
    tls_server: tuple[int, Path], name: str
) -> None:
    port, ca = tls_server
    ctx = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=name) as tls,
    ):
        assert tls.recv(2) == b"ok"


def test_python_ssl_rejects_a_name_not_in_the_certificate(tls_server: tuple[int, Path]) -> None:
    port, ca = tls_server
    ctx = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ctx.wrap_socket(raw, server_hostname="other.vsi-system.svc")


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "certs", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--service", "Bad_Name", "--namespace", "ns"], "--service"),
        (["--service", "svc", "--namespace", "NS!"], "--namespace"),
        (["--service", "svc", "--namespace", "ns", "--san", "bad..name"], "--san"),
        (["--service", "svc", "--namespace", "ns", "--days", "0"], "--days"),
        (["--service", "svc", "--namespace", "ns", "--days", "-3"], "--days"),
        (["--service", "svc", "--namespace", "ns", "--ca-days", "0"], "--ca-days"),
        (["--service", "svc", "--namespace", "ns", "--days", "ten"], "--days"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_problem(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    result = _run_cli("generate", "--out", str(tmp_path / "out"), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "tls.key").exists()


def test_unwritable_directory_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = _run_cli(
        "generate", "--service", "svc", "--namespace", "ns", "--out", str(blocker / "x")
    )
    assert result.returncode == 2
    assert "--out" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_generate_then_reuse_reports_what_it_did(tmp_path: Path) -> None:
    first = _run_cli("generate", "--service", "svc", "--namespace", "ns", "--out", str(tmp_path))
    second = _run_cli("generate", "--service", "svc", "--namespace", "ns", "--out", str(tmp_path))
    assert first.returncode == 0
    assert second.returncode == 0
    assert "CA created" in first.stdout
    assert "CA reused" in second.stdout
    assert "serving certificate reused" in second.stdout


def test_help_says_what_the_command_does() -> None:
    result = _run_cli("--help")
    assert result.returncode == 0
    assert "serving certificate" in result.stdout


def test_generate_command_loads_no_kubernetes_or_http_client(tmp_path: Path) -> None:
    # kubernetes_asyncio takes about 2 s to import; `vsi-certs generate` must not pay for the
    # bootstrap subcommand it registers.
    probe = (
        "import sys\n"
        "from certs import cli\n"
        f"args = ['generate', '--service', 's', '--namespace', 'ns', '--out', {str(tmp_path)!r}]\n"
        "code = cli.main(args)\n"
        "libs = ('kubernetes_asyncio', 'aiohttp', 'hvac', 'requests', 'urllib3')\n"
        "print(code, [m for m in libs if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )

    assert done.stdout.strip().splitlines()[-1] == "0 []"
    assert (tmp_path / "tls.crt").exists()
