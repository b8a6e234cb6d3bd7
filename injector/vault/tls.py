"""The TLS context every connection to Vault uses, read from the VAULT_* TLS settings.

A run's transport (`injector.vault.transport`) and ``--check``'s handshake
(`injector.check.tls`) both connect with `build_ssl_context`, so what a check reports is what a
run meets. Standard library only (certifi for the public bundle): the check's diagnosis reaches
no HTTP client.

The TLS files are read through `vsi_common.files.read_regular_file`: a FIFO, a device or a huge
file swapped in at a certificate path fails at once instead of hanging or ballooning the run, and
what OpenSSL loads is exactly the bytes that were checked (the client pair through an in-memory
file, so the key never lands on a disk).
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from injector.errors import VaultError
from injector.settings.model import TlsSettings
from vsi_common import names
from vsi_common.files import UnreadableFile, read_regular_file

MAX_TLS_FILE: Final = 1024 * 1024
"""Largest CA bundle, client certificate or key file read."""
FATAL_TLS_ERRORS: Final = re.compile(
    r"certificate verify failed|CERTIFICATE_VERIFY_FAILED|hostname|doesn't match|match either"
    r"|certificate required|CERTIFICATE_REQUIRED|bad certificate|BAD_CERTIFICATE|unknown ca"
    r"|UNKNOWN_CA|PEM lib|key values mismatch|WRONG_VERSION_NUMBER|wrong version number",
)
"""TLS errors that retrying cannot fix (verification, name, client certificate, not TLS)."""
CA_DIR_ENTRY: Final = re.compile(r"^[0-9a-f]{8}\.r?\d+$")
"""Names OpenSSL looks up in a VAULT_CAPATH directory (``<subject hash>.<n>``)."""

_ERRNO_TEXT: Final = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
_SSL_TEXT: Final = re.compile(r"certificate verify failed[^'\"(]*|\[SSL: [A-Z_]+\] [^'\"(]*")
_EOF_TEXT: Final = re.compile(r"EOF occurred in violation of protocol|Connection reset by peer")


def describe_error(
    exc: BaseException,
    *,
    tls_errors: tuple[type[BaseException], ...] = (ssl.SSLError,),
    timeouts: tuple[type[BaseException], ...] = (TimeoutError,),
) -> str:
    """A short, secret-free line for a connection or TLS error.

    ``tls_errors`` and ``timeouts`` add a client library's own wrappers of those two kinds.
    """
    text = str(exc)
    if isinstance(exc, tls_errors):
        match = _SSL_TEXT.search(text) or _EOF_TEXT.search(text)
        return "TLS error: " + (match.group(0).strip() if match else "handshake failed")
    match = _ERRNO_TEXT.search(text)
    if match:  # before timeouts: urllib3's NewConnectionError is a ConnectTimeoutError
        return match.group(1).strip()
    if isinstance(exc, timeouts):
        return "timed out"
    return f"{type(exc).__name__}: {text[:200]}"


def _read_tls_file(path: Path, name: str) -> bytes:
    try:
        return read_regular_file(path, max_bytes=MAX_TLS_FILE)
    except UnreadableFile as exc:
        raise VaultError(f"{name}: {exc}") from None


def _check_ca_dir(directory: Path) -> None:
    """VaultError unless every hash-named entry of a CA directory is a small regular file."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        raise VaultError(f"{names.VAULT_CAPATH}: cannot list {directory}: {exc.strerror}") from None
    for entry in entries:
        if not CA_DIR_ENTRY.match(entry.name):
            continue
        try:
            info = os.stat(entry.path)
        except OSError as exc:
            raise VaultError(f"{names.VAULT_CAPATH}: {entry.path}: {exc.strerror}") from None
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_TLS_FILE:
            raise VaultError(
                f"{names.VAULT_CAPATH}: {entry.path} is not a regular file of at most "
                f"{MAX_TLS_FILE} bytes"
            )


class _EncryptedKey(Exception):
    """The client key asks for a password (the injector has none to give)."""


def _no_password() -> str:
    raise _EncryptedKey


@contextlib.contextmanager
def _in_memory(content: bytes, fallback: Path) -> Iterator[str]:
    """A path OpenSSL can open that holds exactly ``content`` (a memfd), else ``fallback``."""
    try:
        fd = os.memfd_create("vsi-tls", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        yield str(fallback)
        return
    try:
        os.write(fd, content)
        path = f"/proc/self/fd/{fd}"
        yield path if os.path.exists(path) else str(fallback)
    finally:
        os.close(fd)


def build_ssl_context(tls: TlsSettings) -> ssl.SSLContext:
    """The TLS context for Vault: its CA only (or certifi's bundle when none is named), TLS 1.2+."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif tls.cacert is not None:
        pem = _read_tls_file(tls.cacert, names.VAULT_CACERT)
        try:
            context.load_verify_locations(cadata=pem.decode("ascii", "replace"))
        except (ssl.SSLError, ValueError) as exc:
            raise VaultError(
                f"{names.VAULT_CACERT}: {tls.cacert} holds no usable PEM certificate ({exc})"
            ) from None
    elif tls.capath is not None:
        _check_ca_dir(tls.capath)
        context.load_verify_locations(capath=str(tls.capath))
    else:
        import certifi  # the bundle requests used, so a public CA keeps working

        context.load_verify_locations(cafile=certifi.where())
    if tls.client_cert is not None and tls.client_key is not None:
        cert = _read_tls_file(tls.client_cert, names.VAULT_CLIENT_CERT)
        key = _read_tls_file(tls.client_key, names.VAULT_CLIENT_KEY)
        with (
            _in_memory(cert, tls.client_cert) as cert_file,
            _in_memory(key, tls.client_key) as key_file,
        ):
            try:
                context.load_cert_chain(cert_file, key_file, password=_no_password)
            except _EncryptedKey:
                raise VaultError(
                    f"{names.VAULT_CLIENT_KEY}: {tls.client_key} is encrypted; the injector needs "
                    "an unencrypted key"
                ) from None
            except ssl.SSLError as exc:
                raise VaultError(
                    f"{names.VAULT_CLIENT_CERT}/{names.VAULT_CLIENT_KEY}: cannot use "
                    f"{tls.client_cert} with {tls.client_key}: {describe_error(exc)}"
                ) from None
    return context
