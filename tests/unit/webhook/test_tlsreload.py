"""`webhook.server.tlsreload`: what counts as a usable certificate pair."""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
from pathlib import Path

import pytest

from certs.generate import generate
from certs.pki import cert_pem, key_pem, load_cert, load_ec_key, make_leaf
from webhook.errors import UsageError
from webhook.server.tlsreload import CertLoadError, CertReloader, load_pair, read_pem


def test_a_matching_pair_loads_with_its_serial_and_tls_1_2_floor(tmp_path: Path) -> None:
    files = generate(tmp_path, "svc", "ns").files
    loaded = load_pair(files.tls_cert, files.tls_key)
    assert loaded.serial == load_cert(files.tls_cert.read_bytes()).serial_number  # type: ignore[union-attr]
    assert loaded.context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing-cert", "cannot open"),
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


async def test_a_bad_pair_at_start_up_is_a_usage_error(tmp_path: Path) -> None:
    files = generate(tmp_path, "svc", "ns").files
    files.tls_cert.write_bytes(b"x")
    with pytest.raises(UsageError, match=r"--tls-cert/--tls-key: .* is not a PEM certificate"):
        await CertReloader(files.tls_cert, files.tls_key).load_initial()


async def test_polling_an_unchanged_pair_loads_nothing_and_a_rotated_one_is_used(
    tmp_path: Path,
) -> None:
    files = generate(tmp_path, "svc", "ns").files
    reloader = CertReloader(files.tls_cert, files.tls_key)
    first = await reloader.load_initial()
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


async def test_three_failed_checks_in_a_row_make_it_unready(tmp_path: Path) -> None:
    files = generate(tmp_path, "svc", "ns").files
    reloader = CertReloader(files.tls_cert, files.tls_key, failures_unready=3)
    await reloader.load_initial()
    files.tls_cert.write_bytes(b"x")
    reloader.poll()
    reloader.poll()
    assert reloader.readiness() is None
    reloader.poll()
    assert "refused 3 times in a row" in (reloader.readiness() or "")


def _encrypted(key_pem_bytes: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(key_pem_bytes, None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )


@pytest.mark.parametrize(
    ("swap", "message"),
    [
        ("fifo", "is a FIFO, expected a regular file"),
        ("huge", "is larger than 1048576 bytes"),
        ("loop", "Too many levels of symbolic links"),
        ("directory", "is a directory, expected a regular file"),
        ("encrypted-key", "is encrypted: the webhook needs an unencrypted key"),
    ],
)
def test_a_path_that_could_hang_balloon_or_prompt_is_refused_at_once(
    tmp_path: Path, swap: str, message: str
) -> None:
    files = generate(tmp_path, "svc", "ns").files
    target = files.tls_key if swap == "encrypted-key" else files.tls_cert
    original = target.read_bytes()
    target.unlink()
    if swap == "fifo":
        os.mkfifo(target)
    elif swap == "huge":
        with target.open("wb") as sparse:  # 100 MB that take no disk space
            sparse.truncate(100 * 1024 * 1024)
    elif swap == "loop":
        target.symlink_to(target)
    elif swap == "directory":
        target.mkdir()
    else:
        target.write_bytes(_encrypted(original))
    with pytest.raises(CertLoadError) as caught:
        load_pair(files.tls_cert, files.tls_key)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_checks_that_hang_count_as_failures_and_the_previous_pair_keeps_serving(
    tmp_path: Path,
) -> None:
    """A regular-file read that hangs (a dead network volume) cannot be made here without a
    FUSE mount, so the reader blocks on an event the test holds."""
    files = generate(tmp_path, "svc", "ns").files
    hang = threading.Event()
    release = threading.Event()

    def read(path: Path) -> bytes:
        if hang.is_set():
            release.wait(30)
        return read_pem(path)

    failures: list[str] = []
    reloader = CertReloader(
        files.tls_cert,
        files.tls_key,
        read=read,
        check_timeout=0.1,
        on_failure=failures.append,
    )
    first = await reloader.load_initial()
    watching = asyncio.create_task(reloader.watch(0.02))
    try:
        hang.set()
        async with asyncio.timeout(10):
            while reloader.readiness() is None:
                await asyncio.sleep(0.01)
        why = reloader.readiness() or ""
        assert "refused 3 times in a row: certificate check:" in why
        assert reloader.current is first
        assert failures[0] == "timeout"

        hang.clear()
        release.set()
        async with asyncio.timeout(10):
            while reloader.readiness() is not None:
                await asyncio.sleep(0.01)
        assert reloader.current is first
    finally:
        release.set()
        watching.cancel()
