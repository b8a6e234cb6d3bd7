"""Issue 12's reload attacks against a real `vsi-webhook serve` process.

The certificate path is replaced in turn by a FIFO, a 100 MB file, a symlink loop, and the key by
an encrypted one: each is refused at once and logged, the old certificate keeps serving, RSS does
not grow, and the next normal rotation is picked up. The profiles path becomes a FIFO too. Then,
with FIFOs at both paths, SIGTERM ends the process in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import orjson
from cryptography.hazmat.primitives import serialization

from certs.generate import CertFiles, cert_pem, generate, key_pem, load_cert, load_ec_key, make_leaf
from tests.integration.webhook.helpers import (
    NAMESPACE,
    SERVICE,
    SNI,
    admission_review,
    client_context,
    file_serial,
    pod,
)
from tests.integration.webhook.process import EXIT_DEADLINE, Process, webhook_process

RELOAD_INTERVAL = "0.2"
DEADLINE = 20.0
HUGE = 100 * 1024 * 1024
RSS_GROWTH_MIB = 10.0
"""Reading the 100 MB file would add 100 MB (the issue measured 350-500 MiB); refusing it adds
nothing but the noise of a process that keeps serving (a few MiB)."""


async def _served_serial(port: int, ca: Path) -> int:
    from cryptography import x509

    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context(ca), server_hostname=SNI
    )
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    return x509.load_der_x509_certificate(der).serial_number


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


CERT_REFUSED = "certificate files refused; still serving the previous certificate"
PROFILES_REFUSED = "profiles file refused; still serving the previous profiles"


def _refused(process: Process, msg: str, words: str) -> Callable[[], bool]:
    """Whether a ``msg`` line whose error contains ``words`` was logged."""

    def check() -> bool:
        return any(words in str(line.get("error", "")) for line in process.logged(msg))

    return check


def _rotate(files: CertFiles) -> int:
    """A new leaf from the same CA, written as a rotation writes it; its serial."""
    ca_key = load_ec_key(files.ca_key.read_bytes())
    ca_cert = load_cert(files.ca_cert.read_bytes())
    assert ca_key is not None
    assert ca_cert is not None
    key, leaf = make_leaf(ca_key, ca_cert, [SNI], days=1)
    for path, data in ((files.tls_key, key_pem(key)), (files.tls_cert, cert_pem(leaf))):
        fresh = path.with_suffix(".new")
        fresh.write_bytes(data)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fresh.rename(path)
    return int(leaf.serial_number)


def _encrypted(key_path: Path) -> bytes:
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )


def _swap(files: CertFiles, kind: str) -> str:
    """Replace a path with something that must be refused; words its refusal contains."""
    if kind == "encrypted-key":
        files.tls_key.write_bytes(_encrypted(files.tls_key))
        return "is encrypted: the webhook needs an unencrypted key"
    path = files.tls_cert
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
        return "is a FIFO, expected a regular file"
    if kind == "huge":
        with path.open("wb") as sparse:
            sparse.truncate(HUGE)
        return f"is larger than {1024 * 1024} bytes"
    path.symlink_to(path)
    return "Too many levels of symbolic links"


async def _review(process: Process, ca: Path) -> int:
    connector = aiohttp.TCPConnector(ssl=client_context(ca))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(
            f"https://127.0.0.1:{process.port}/mutate",
            data=orjson.dumps(admission_review(pod())),
            headers={"Content-Type": "application/json"},
            server_hostname=SNI,
        ) as resp,
    ):
        return resp.status


async def test_hostile_certificate_and_profiles_paths_keep_the_old_material_and_sigterm_exits(
    tmp_path: Path,
) -> None:
    files = generate(tmp_path / "tls", SERVICE, NAMESPACE).files
    config = tmp_path / "config.yaml"
    config.write_text("builtinProfiles: true\n")
    args = ["--tls-cert", str(files.tls_cert), "--tls-key", str(files.tls_key)]
    args += ["--config", str(config), "--reload-interval", RELOAD_INTERVAL]
    async with webhook_process(*args, dev=False) as process:
        serving = file_serial(files.tls_cert)
        assert await _served_serial(process.port, files.ca_cert) == serving
        for kind in ("fifo", "huge", "loop", "encrypted-key"):
            rss_before = process.rss_mib()
            words = _swap(files, kind)
            await _until(_refused(process, CERT_REFUSED, words), f"the {kind} to be refused")
            assert await _served_serial(process.port, files.ca_cert) == serving, kind
            assert process.rss_mib() - rss_before < RSS_GROWTH_MIB, kind
            serving = _rotate(files)
            await _until_served(process, files.ca_cert, serving, kind)

        config.unlink()
        os.mkfifo(config)
        await _until(_refused(process, PROFILES_REFUSED, "is a FIFO"), "the profiles FIFO refused")
        assert await _review(process, files.ca_cert) == 200

        files.tls_cert.unlink()
        os.mkfifo(files.tls_cert)
        process.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = await asyncio.wait_for(process.proc.wait(), EXIT_DEADLINE)
        assert code == 0
        assert time.monotonic() - signalled < EXIT_DEADLINE
    for raw in process.raw:
        json.loads(raw)  # every line is one of ours
    assert not any(b"pass phrase" in raw.lower() for raw in process.raw)


async def _until_served(process: Process, ca: Path, serial: int, after: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while await _served_serial(process.port, ca) != serial:
        assert time.monotonic() < deadline, f"the rotation after the {after} was not picked up"
        await asyncio.sleep(0.05)
