"""One TLS handshake with Vault for ``--check``: the certificate it presents, as the run sees it.

The handshake uses the run's own context (`injector.transport.build_ssl_context`: the same CA
files, client pair and TLS floor) and the run's name (VAULT_TLS_SERVER_NAME, else the VAULT_ADDR
host), so what it reports is what a run meets. When verification fails it connects once more
without verification, only to read the certificate and name its issuer. Nothing is ever sent on
either connection: no request, no token, no credential; the client certificate goes only to a
server the run's context would accept.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
from pathlib import Path
from typing import Final

from injector.errors import VaultError
from injector.model import VaultSettings
from injector.tlsfacts import CertInfo, TlsFacts, key_id, parse_certificate
from injector.transport import FATAL_TLS_ERRORS, MAX_TLS_FILE, build_ssl_context, describe_exception
from vsi_common import names
from vsi_common.files import UnreadableFile, read_regular_file

MISMATCH_CODES: Final = frozenset({62, 64})
"""OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH."""
MAX_LISTED: Final = 3
"""Most CA certificates of VAULT_CACERT named in a message."""


def _bundle(path: Path) -> str:
    """The CAs a PEM bundle holds (subject and key id), for messages; empty when unreadable."""
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(read_regular_file(path, max_bytes=MAX_TLS_FILE))
    except (UnreadableFile, ValueError):
        return ""
    shown = []
    for cert in certs[:MAX_LISTED]:
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            shown.append(f"{cert.subject.rfc4514_string()} (key id {key_id(ski.digest)})")
        except x509.ExtensionNotFound:
            shown.append(cert.subject.rfc4514_string())
    more = f" and {len(certs) - MAX_LISTED} more" if len(certs) > MAX_LISTED else ""
    return ", ".join(shown) + more


def _trusted(vault: VaultSettings) -> str:
    """What verifies Vault's certificate in a run, for messages."""
    tls = vault.tls
    if tls.skip_verify:
        return f"nothing ({names.VAULT_SKIP_VERIFY})"
    if tls.cacert is not None:
        return f"{names.VAULT_CACERT} {tls.cacert}"
    if tls.capath is not None:
        return f"{names.VAULT_CAPATH} {tls.capath}"
    return "the public CA bundle (certifi)"


def _client(vault: VaultSettings) -> CertInfo | None:
    path = vault.tls.client_cert
    if path is None:
        return None
    try:
        return parse_certificate(read_regular_file(path, max_bytes=MAX_TLS_FILE), pem=True)
    except (UnreadableFile, ValueError) as exc:
        raise VaultError(f"{names.VAULT_CLIENT_CERT}: {path}: {exc}") from None


def _handshake(
    context: ssl.SSLContext, host: str, port: int, name: str, timeout: float
) -> tuple[bytes | None, str]:
    """Connect and complete the handshake; the peer certificate (DER) and TLS version."""
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        return tls.getpeercert(binary_form=True), tls.version() or ""


def _unverified() -> ssl.SSLContext:
    """A context that accepts any certificate: only to read it, never to send anything."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _peer(der: bytes | None) -> CertInfo | None:
    if not der:
        return None
    try:
        return parse_certificate(der)
    except ValueError:
        return None


def probe(vault: VaultSettings, timeout: float) -> TlsFacts:
    """The TLS facts of an https VAULT_ADDR; `VaultError` when the TLS settings are unusable."""
    context = build_ssl_context(vault.tls)
    origin = vault.origin
    name = vault.server_name
    facts = TlsFacts(
        origin=origin.url,
        name=name,
        name_source=names.VAULT_TLS_SERVER_NAME if vault.tls.server_name else "the VAULT_ADDR host",
        trusted=_trusted(vault),
        skip_verify=vault.tls.skip_verify,
        verified=False,
        client=_client(vault),
    )
    try:
        der, version = _handshake(context, origin.host, origin.port, name, timeout)
    except ssl.SSLCertVerificationError as exc:
        failed = dataclasses.replace(
            facts,
            trusted_cas=_bundle(vault.tls.cacert) if vault.tls.cacert is not None else "",
            error=f"certificate verify failed: {exc.verify_message}",
            fatal=True,
            name_mismatch=exc.verify_code in MISMATCH_CODES,
        )
        try:
            der, version = _handshake(_unverified(), origin.host, origin.port, name, timeout)
        except OSError:
            return failed
        return dataclasses.replace(failed, peer=_peer(der), version=version)
    except OSError as exc:  # ssl.SSLError too: a handshake that failed some other way
        fatal = isinstance(exc, ssl.SSLError) and bool(FATAL_TLS_ERRORS.search(str(exc)))
        return dataclasses.replace(facts, error=describe_exception(exc), fatal=fatal)
    return dataclasses.replace(
        facts, verified=not vault.tls.skip_verify, peer=_peer(der), version=version
    )
