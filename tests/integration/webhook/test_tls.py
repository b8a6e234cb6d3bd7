"""The serving certificate over real TLS: verification like the apiserver, hot reload, bad pairs."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest

from certs.generate import CertFiles, generate
from certs.pki import cert_pem, key_pem, load_cert, load_ec_key, make_leaf
from tests.integration.webhook.conftest import Server, StartServer
from tests.integration.webhook.helpers import (
    NAMESPACE,
    SERVICE,
    SNI,
    admission_review,
    client_context,
    file_serial,
    pod,
    wait_for,
)

ROTATION_DEADLINE = 10.0
"""The issue's promise: new handshakes see a new certificate within 10 s."""


async def test_client_verifying_against_the_ca_with_service_sni_is_served_tls_1_2_or_newer(
    server: Server, cert_files: CertFiles
) -> None:
    import asyncio

    _, writer = await asyncio.open_connection(
        "127.0.0.1",
        server.running.port,
        ssl=client_context(cert_files.ca_cert),
        server_hostname=SNI,
    )
    version = writer.get_extra_info("ssl_object").version()
    writer.close()
    await writer.wait_closed()
    assert version in ("TLSv1.2", "TLSv1.3")
    assert server.state.tls.server_context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
async def test_a_client_that_only_speaks_tls_1_1_is_refused(server: Server) -> None:
    import asyncio

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await asyncio.open_connection(
            "127.0.0.1", server.running.port, ssl=context, server_hostname=SNI
        )


async def test_a_client_with_another_ca_is_refused(server: Server, tmp_path: Path) -> None:
    import asyncio

    other = generate(tmp_path / "other", SERVICE, NAMESPACE).files
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.open_connection(
            "127.0.0.1",
            server.running.port,
            ssl=client_context(other.ca_cert),
            server_hostname=SNI,
        )


async def test_rotated_files_are_served_within_10_s_without_restart(
    server: Server, cert_files: CertFiles
) -> None:
    old = await server.client.served_serial()
    assert old == file_serial(cert_files.tls_cert)

    generate(cert_files.directory, SERVICE, NAMESPACE, rotate=True)
    new = file_serial(cert_files.tls_cert)
    assert new != old

    async def serving_new() -> bool:
        return await server.client.served_serial() == new

    await wait_for(serving_new, timeout=ROTATION_DEADLINE, what="the rotated certificate")
    assert (await server.client.review(admission_review(pod())))["response"]["allowed"]
    assert server.state.metrics.certificate_reloads.labels("success")._value.get() == 1


def _kubernetes_volume(root: Path, source: CertFiles, stamp: str) -> None:
    """Lay out ``root`` as kubelet does for a Secret volume, or swap to a new ``..data``."""
    data_dir = root / f"..{stamp}"
    data_dir.mkdir()
    for name in ("tls.crt", "tls.key", "ca.crt"):
        (data_dir / name).write_bytes((source.directory / name).read_bytes())
    tmp_link = root / "..data_tmp"
    tmp_link.symlink_to(data_dir.name)
    os.replace(tmp_link, root / "..data")
    for name in ("tls.crt", "tls.key", "ca.crt"):
        link = root / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")


async def test_a_kubernetes_secret_volume_symlink_swap_is_picked_up(
    start_server: StartServer, cert_files: CertFiles, tmp_path: Path
) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    _kubernetes_volume(volume, cert_files, "2024_01_01_00_00_00.1")
    server = await start_server(tls_cert=volume / "tls.crt", tls_key=volume / "tls.key")
    assert await server.client.served_serial() == file_serial(cert_files.tls_cert)

    generate(cert_files.directory, SERVICE, NAMESPACE, rotate=True)
    new = file_serial(cert_files.tls_cert)
    _kubernetes_volume(volume, cert_files, "2024_02_01_00_00_00.2")

    async def serving_new() -> bool:
        return await server.client.served_serial() == new

    await wait_for(serving_new, timeout=ROTATION_DEADLINE, what="the swapped certificate")


async def test_a_corrupt_or_mismatched_pair_keeps_the_old_certificate_and_then_readyz_fails(
    server: Server, cert_files: CertFiles
) -> None:
    old = await server.client.served_serial()
    good_key = cert_files.tls_key.read_bytes()
    # A certificate whose key is not the one on disk.
    ca_key = load_ec_key(cert_files.ca_key.read_bytes())
    ca_cert = load_cert(cert_files.ca_cert.read_bytes())
    assert ca_key is not None
    assert ca_cert is not None
    _, other_leaf = make_leaf(ca_key, ca_cert, [SNI], days=30)
    cert_files.tls_cert.write_bytes(cert_pem(other_leaf))

    failures = server.state.metrics.certificate_reloads.labels("failure")

    async def refused() -> bool:
        return failures._value.get() >= 1

    await wait_for(refused, timeout=ROTATION_DEADLINE, what="the mismatched pair to be refused")
    assert await server.client.served_serial() == old

    cert_files.tls_cert.write_bytes(b"-----BEGIN CERTIFICATE-----\ngarbage\n")

    async def unready() -> bool:
        status, _ = await server.client.get("/readyz")
        return status == 503

    await wait_for(unready, timeout=ROTATION_DEADLINE, what="/readyz to turn unready")
    _, text = await server.client.get("/readyz")
    assert "[-]certificate failed" in text
    assert "not a PEM certificate" in text
    assert good_key.decode() not in text
    assert await server.client.served_serial() == old
    assert (await server.client.review(admission_review(pod())))["response"]["allowed"]

    leaf_key, leaf = make_leaf(ca_key, ca_cert, [SNI], days=30)
    cert_files.tls_key.write_bytes(key_pem(leaf_key))
    cert_files.tls_cert.write_bytes(cert_pem(leaf))

    async def ready_with_new() -> bool:
        status, _ = await server.client.get("/readyz")
        return status == 200 and await server.client.served_serial() == leaf.serial_number

    await wait_for(ready_with_new, timeout=ROTATION_DEADLINE, what="recovery with a good pair")
