"""`webhook.server.tlsreload`: what counts as a usable certificate pair."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from certs.generate import generate
from certs.pki import cert_pem, key_pem, load_cert, load_ec_key, make_leaf
from webhook.errors import UsageError
from webhook.server.tlsreload import CertLoadError, CertReloader, load_pair


def test_a_matching_pair_loads_with_its_serial_and_tls_1_2_floor(tmp_path: Path) -> None:
    files = generate(tmp_path, "svc", "ns").files
    loaded = load_pair(files.tls_cert, files.tls_key)
    assert loaded.serial == load_cert(files.tls_cert.read_bytes()).serial_number  # type: ignore[union-attr]
    assert loaded.context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing-cert", "cannot read"),
        ("garbage-cert", "is not a PEM certificate"),
        ("other-key", "does not match"),
        ("garbage-key", "is not usable with"),
    ],
)
def test_an_unusable_pair_is_refused_with_one_line(
    tmp_path: Path, damage: str, message: str
) -> None:
    files = generate(tmp_path, "svc", "ns").files
    if damage == "missing-cert":
        files.tls_cert.unlink()
    elif damage == "garbage-cert":
        files.tls_cert.write_bytes(b"not pem")
    elif damage == "garbage-key":
        files.tls_key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    else:
        ca_key = load_ec_key(files.ca_key.read_bytes())
        ca_cert = load_cert(files.ca_cert.read_bytes())
        assert ca_key is not None
        assert ca_cert is not None
        other_key, _ = make_leaf(ca_key, ca_cert, ["svc"], days=1)
        files.tls_key.write_bytes(key_pem(other_key))
    with pytest.raises(CertLoadError) as caught:
        load_pair(files.tls_cert, files.tls_key)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)


def test_a_bad_pair_at_start_up_is_a_usage_error(tmp_path: Path) -> None:
    files = generate(tmp_path, "svc", "ns").files
    files.tls_cert.write_bytes(b"x")
    with pytest.raises(UsageError, match=r"--tls-cert/--tls-key: .* is not a PEM certificate"):
        CertReloader(files.tls_cert, files.tls_key).load_initial()


def test_polling_an_unchanged_pair_loads_nothing_and_a_rotated_one_is_used(tmp_path: Path) -> None:
    files = generate(tmp_path, "svc", "ns").files
    reloader = CertReloader(files.tls_cert, files.tls_key)
    first = reloader.load_initial()
    assert reloader.poll() is False
    ca_key = load_ec_key(files.ca_key.read_bytes())
    ca_cert = load_cert(files.ca_cert.read_bytes())
    assert ca_key is not None
    assert ca_cert is not None
    key, leaf = make_leaf(ca_key, ca_cert, ["svc"], days=1)
    files.tls_key.write_bytes(key_pem(key))
    files.tls_cert.write_bytes(cert_pem(leaf))
    assert reloader.poll() is True
    assert reloader.current is not None
    assert reloader.current.serial == leaf.serial_number != first.serial
    assert reloader.readiness() is None


def test_three_failed_checks_in_a_row_make_it_unready(tmp_path: Path) -> None:
    files = generate(tmp_path, "svc", "ns").files
    reloader = CertReloader(files.tls_cert, files.tls_key, failures_unready=3)
    reloader.load_initial()
    files.tls_cert.write_bytes(b"x")
    reloader.poll()
    reloader.poll()
    assert reloader.readiness() is None
    reloader.poll()
    assert "refused 3 times in a row" in (reloader.readiness() or "")
