"""``--check``'s TLS diagnosis: one handshake with Vault, and what it shows, as report checks.

A run only learns that TLS failed (``certificate verify failed``); an admin needs to know why:
which CA issued the certificate Vault presents, until when it is valid, which names it holds and
whether the name the injector checks is among them, and whether a client certificate is in use.
`diagnose` connects once with the run's own context (`injector.vault.tls.build_ssl_context`: the
same CA files, client pair and TLS floor) and the run's name (VAULT_TLS_SERVER_NAME, else the
VAULT_ADDR host), so what it reports is what a run meets; when verification fails it connects once
more without verification, only to read the certificate and name its issuer. Nothing is ever sent
on either connection: no request, no token, no credential; the client certificate goes only to a
server the run's context would accept.

`probe` collects the facts (`TlsFacts`) from the handshake; `tls_checks` judges them, a pure
function of the facts and the clock. cryptography, which parses certificates, is imported lazily
so that only a check over https loads it; no HTTP client is imported at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from injector.errors import InjectorError, VaultError
from injector.fixes import connection_fix
from injector.settings.model import VaultSettings
from injector.vault.tls import FATAL_TLS_ERRORS, MAX_TLS_FILE, build_ssl_context, describe_error
from vsi_common import names
from vsi_common.files import UnreadableFile, read_regular_file
from vsi_common.report import FAIL, OK, WARN, Check

EXPIRY_WARNING: Final = dt.timedelta(days=30)
"""A certificate valid for less than this is a warning: renew it before a pod cannot start."""
MISMATCH_CODES: Final = frozenset({62, 64})
"""OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH."""
MAX_LISTED: Final = 3
"""Most CA certificates of VAULT_CACERT named in a message."""


@dataclass(frozen=True)
class CertInfo:
    """What a certificate says about itself (all public)."""

    subject: str
    """The subject, RFC 4514 (``CN=vault``)."""
    issuer: str
    """The issuer, RFC 4514."""
    issuer_key_id: str
    """The authority key identifier (hex, as ``openssl x509 -text`` prints it); may be empty."""
    not_before: dt.datetime
    """Start of validity (UTC)."""
    not_after: dt.datetime
    """End of validity (UTC)."""
    names: tuple[str, ...]
    """DNS names and IP addresses of the subjectAltName extension."""


@dataclass(frozen=True)
class TlsFacts:
    """What one TLS handshake with Vault showed."""

    origin: str
    """``https://host:port``."""
    name: str
    """The name checked: VAULT_TLS_SERVER_NAME, else the VAULT_ADDR host."""
    name_source: str
    """Where `name` comes from, for messages."""
    trusted: str
    """What verifies Vault's certificate: ``VAULT_CACERT <file>``, ``VAULT_CAPATH <dir>``, ..."""
    skip_verify: bool
    """VAULT_SKIP_VERIFY is set: nothing is verified."""
    verified: bool
    """The run's own TLS context accepted the certificate and the name."""
    trusted_cas: str = ""
    """The CAs VAULT_CACERT holds (subject and key id), named when verification fails."""
    error: str = ""
    """Why the handshake or the verification failed; empty when `verified`."""
    fatal: bool = False
    """The failure is one retrying cannot fix, so a run fails at once (`error` says which)."""
    name_mismatch: bool = False
    """Verification failed on the name alone (the chain was fine)."""
    peer: CertInfo | None = None
    """Vault's certificate, when one was read."""
    version: str = ""
    """The TLS version of the handshake, e.g. ``TLSv1.3``."""
    client: CertInfo | None = None
    """The client certificate in use (VAULT_CLIENT_CERT), if any."""


def key_id(value: bytes) -> str:
    """A key identifier the way ``openssl x509 -text`` prints it (``1A:2B:...``)."""
    return ":".join(f"{b:02X}" for b in value)


def parse_certificate(data: bytes, *, pem: bool = False) -> CertInfo:
    """The public facts of a DER (or PEM) certificate; ValueError when it is not one."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(data) if pem else x509.load_der_x509_certificate(data)
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        issuer_key_id = key_id(aki.key_identifier or b"")
    except x509.ExtensionNotFound:
        issuer_key_id = ""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        found = [*san.get_values_for_type(x509.DNSName)]
        found += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        found = []
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        issuer_key_id=issuer_key_id,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        names=tuple(found),
    )


def name_matches(name: str, found: Sequence[str]) -> bool:
    """Whether a certificate naming ``found`` is valid for ``name`` (IP, exact or ``*.`` match)."""
    name = name.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    for entry in found:
        if ip is not None:
            try:
                if ipaddress.ip_address(entry) == ip:
                    return True
            except ValueError:
                pass
            continue
        entry = entry.lower().rstrip(".")
        wildcard = entry.startswith("*.") and name.partition(".")[2] == entry[2:]
        if entry == name or wildcard:
            return True
    return False


# -- the handshake ---------------------------------------------------------------------------------


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


def _client_certificate(vault: VaultSettings) -> CertInfo | None:
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
        client=_client_certificate(vault),
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
        return dataclasses.replace(facts, error=describe_error(exc), fatal=fatal)
    return dataclasses.replace(
        facts, verified=not vault.tls.skip_verify, peer=_peer(der), version=version
    )


# -- what the facts say ----------------------------------------------------------------------------


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _issued(cert: CertInfo) -> str:
    kid = f" (key id {cert.issuer_key_id})" if cert.issuer_key_id else ""
    return f"{cert.subject}, issued by {cert.issuer}{kid}"


def _certificate(facts: TlsFacts) -> Check:
    """``tls-certificate``: who issued Vault's certificate, and whether the run trusts it."""
    name = "tls-certificate"
    peer = facts.peer
    fix_ca = f"set {names.VAULT_CACERT} (or {names.VAULT_CAPATH}) to the CA that issued it"
    if peer is None:
        detail = f"no TLS handshake with {facts.origin}: {facts.error}"
        return Check(name, FAIL, detail, connection_fix(facts.error))
    version = f" over {facts.version}" if facts.version else ""
    if facts.skip_verify:
        return Check(
            name,
            WARN,
            f"not verified ({names.VAULT_SKIP_VERIFY}): {_issued(peer)}{version}",
            f"{fix_ca} ({peer.issuer}) and unset {names.VAULT_SKIP_VERIFY}",
        )
    if facts.verified or facts.name_mismatch:
        return Check(name, OK, f"{_issued(peer)}, verified with {facts.trusted}{version}")
    kid = f", key id {peer.issuer_key_id}" if peer.issuer_key_id else ""
    expired = "expired" in facts.error
    return Check(
        name,
        FAIL,
        f"{facts.error}: Vault's certificate is {_issued(peer)}; {facts.trusted} holds "
        f"{facts.trusted_cas or 'other CAs'}",
        "renew Vault's certificate" if expired else f"{fix_ca}: {peer.issuer}{kid}",
    )


def _name(facts: TlsFacts, peer: CertInfo) -> Check:
    """``tls-name``: is the name the injector checks in the certificate?"""
    listed = ", ".join(peer.names) or "no subjectAltName at all"
    matched = facts.verified or (not facts.name_mismatch and name_matches(facts.name, peer.names))
    if matched:
        return Check(
            "tls-name", OK, f"{facts.name} ({facts.name_source}) is in the certificate: {listed}"
        )
    return Check(
        "tls-name",
        WARN if facts.skip_verify else FAIL,
        f"the certificate is not valid for {facts.name} ({facts.name_source}); it names {listed}",
        f"set {names.VAULT_TLS_SERVER_NAME} to a name the certificate holds, or point "
        f"{names.VAULT_ADDR} at one",
    )


def _validity(name: str, what: str, cert: CertInfo, now: dt.datetime) -> Check:
    """``tls-expiry`` / the client certificate's validity: expired, not yet valid, or soon."""
    if now < cert.not_before:
        return Check(
            name,
            FAIL,
            f"{what} is not valid before {_when(cert.not_before)}",
            "check the clocks of this node and of the issuer",
        )
    if now >= cert.not_after:
        return Check(name, FAIL, f"{what} expired on {_when(cert.not_after)}", f"renew {what} now")
    days = (cert.not_after - now).days
    detail = f"{what} is valid until {_when(cert.not_after)} ({days} days)"
    if cert.not_after - now < EXPIRY_WARNING:
        return Check(name, WARN, detail, f"renew {what} before {_when(cert.not_after)}")
    return Check(name, OK, detail)


def _client(facts: TlsFacts, now: dt.datetime) -> Check:
    """``tls-client``: whether a client certificate is in use, and whether it is still valid."""
    cert = facts.client
    if cert is None:
        return Check("tls-client", OK, f"no client certificate ({names.VAULT_CLIENT_CERT} unset)")
    validity = _validity("tls-client", "the client certificate", cert, now)
    return Check(
        "tls-client",
        validity.status,
        f"in use: {_issued(cert)}; {validity.detail}",
        validity.fix,
    )


def tls_checks(facts: TlsFacts, now: dt.datetime) -> list[Check]:
    """The report on the TLS facts: certificate and issuer, name, expiry, client certificate."""
    checks = [_certificate(facts)]
    if facts.peer is not None:
        checks.append(_name(facts, facts.peer))
        expiry = _validity("tls-expiry", "Vault's certificate", facts.peer, now)
        if facts.skip_verify and expiry.status == FAIL:  # nothing is verified: a run goes on
            expiry = Check(expiry.name, WARN, expiry.detail, expiry.fix)
        checks.append(expiry)
    checks.append(_client(facts, now))
    return checks


def plain_http(addr: str) -> Check:
    """``tls`` for an http:// VAULT_ADDR: a run works, everything crosses the network in clear."""
    return Check(
        "tls",
        WARN,
        f"{names.VAULT_ADDR} {addr} uses http://: the token, the credentials and every key "
        "cross the network in clear text",
        f"use an https:// {names.VAULT_ADDR} with {names.VAULT_CACERT}",
    )


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def diagnose(
    vault: VaultSettings, timeout: float, clock: Callable[[], dt.datetime] = _utc_now
) -> list[Check]:
    """The ``tls*`` checks of an https ``vault``'s connection, as a run would make it."""
    try:
        facts = probe(vault, timeout)
    except InjectorError as exc:
        fix = f"fix the file named ({names.VAULT_CACERT}, {names.VAULT_CLIENT_CERT}, ...)"
        return [Check("tls-certificate", FAIL, str(exc), fix)]
    return tls_checks(facts, clock())
