"""Keys and certificates of the webhook's small PKI: make them, encode them, check them.

Pure: no file, network or Kubernetes access, so `certs.generate` (files), `certs.plan` (the Secret)
and the tests share one definition of what a good CA and serving certificate are. Keys are ECDSA
P-256; a leaf is signed by the CA and never outlives it. The clock is a parameter (``now``), read
only when a caller leaves it out.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.errors import InvalidInput
from vsi_common import validation

CA_CERT_FILE = "ca.crt"
"""PEM CA certificate; what goes into the webhook configuration's ``caBundle``."""
CA_KEY_FILE = "ca.key"
"""PEM (PKCS#8) CA private key, mode 0600; needed only to sign the next leaf."""
TLS_CERT_FILE = "tls.crt"
"""PEM serving certificate (the ``kubernetes.io/tls`` Secret key of the same name)."""
TLS_KEY_FILE = "tls.key"
"""PEM (PKCS#8) serving key, mode 0600."""

DEFAULT_LEAF_DAYS = 365
"""Validity of the serving certificate when ``--days`` is not given."""
DEFAULT_CA_DAYS = 3650
"""Validity of a new CA when ``--ca-days`` is not given."""
BACKDATE = dt.timedelta(minutes=5)
"""NotBefore lies this far in the past so that a node with a slightly slow clock accepts it."""
MIN_REMAINING = dt.timedelta(days=1)
"""A CA or leaf with less validity left than this is replaced rather than reused."""
CA_COMMON_NAME_PREFIX = "vault-storage-injector CA"
"""Start of a new CA's common name; the creation date follows, so rotated CAs are told apart."""


def validate_dns_name(name: str, *, field: str) -> str:
    """Return ``name`` lower-cased if it is an RFC 1123 DNS name (optionally ``*.``-prefixed)."""
    candidate = name.strip().lower()
    if not validation.is_hostname(candidate.removeprefix("*.")):
        raise InvalidInput(f"{field}: {name!r} is not {validation.HOSTNAME}")
    return candidate


def service_dns_names(service: str, namespace: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The names a client may use for ``service`` in ``namespace``, then ``extra`` (deduplicated).

    Raises `InvalidInput` naming the field when the service, namespace or an extra name is invalid.
    Extra names may also be IP addresses (for ``--dev`` on 127.0.0.1).
    """
    if not validation.is_service_name(service):
        raise InvalidInput(
            f"--service: {service!r} is not a Service name ({validation.DNS1035_LABEL})"
        )
    if not validation.is_namespace_name(namespace):
        raise InvalidInput(
            f"--namespace: {namespace!r} is not a namespace name ({validation.DNS1123_LABEL})"
        )
    names = [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]
    for name in extra:
        try:
            names.append(str(ipaddress.ip_address(name.strip())))
        except ValueError:
            names.append(validate_dns_name(name, field="--san"))
    return tuple(dict.fromkeys(names))


def utcnow() -> dt.datetime:
    """The current time in UTC: the default of every ``now`` parameter."""
    return dt.datetime.now(dt.UTC)


def _general_names(names: Sequence[str]) -> list[x509.GeneralName]:
    result: list[x509.GeneralName] = []
    for name in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def _serial() -> int:
    # 159 random bits: positive, at most 20 octets, as RFC 5280 asks.
    return secrets.randbits(159) | 1


def make_ca(
    *, days: int, now: dt.datetime | None = None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new self-signed ECDSA P-256 CA, valid ``days`` days from a few minutes ago."""
    now = now or utcnow()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"{CA_COMMON_NAME_PREFIX} {now:%Y-%m-%d}")]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    """digitalSignature (ECDSA handshakes), plus keyCertSign and cRLSign for the CA."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def make_leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    names: Sequence[str],
    *,
    days: int,
    now: dt.datetime | None = None,
    client_auth: bool = False,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A serving certificate for ``names`` signed by the CA; never outlives the CA.

    ``client_auth`` adds the clientAuth usage, for a client certificate used in mutual TLS.
    """
    usages = [ExtendedKeyUsageOID.SERVER_AUTH]
    if client_auth:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    now = now or utcnow()
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def cert_pem(cert: x509.Certificate) -> bytes:
    """The certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_cert(data: bytes) -> x509.Certificate | None:
    """The first certificate of a PEM blob, or None when it does not parse."""
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        return None


def load_ec_key(data: bytes) -> ec.EllipticCurvePrivateKey | None:
    """An unencrypted PEM EC private key, or None when it does not parse or is not EC."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def load_private_key(data: bytes) -> PrivateKeyTypes | None:
    """An unencrypted PEM private key of any type (a certificate someone else made may be RSA),
    or None when it does not parse."""
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        return None


def key_matches(key: PrivateKeyTypes, cert: x509.Certificate) -> bool:
    """Whether ``cert`` carries the public half of ``key``."""
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return key.public_key().public_bytes(der, spki) == cert.public_key().public_bytes(der, spki)


def signed_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """Whether ``ca_cert`` issued ``cert`` (issuer name and signature both check out)."""
    if cert.issuer != ca_cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def san_names(cert: x509.Certificate) -> set[str]:
    """DNS names and IP addresses (as text) in the certificate's subjectAltName."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = set(san.get_values_for_type(x509.DNSName))
    names.update(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return names


def load_certs(data: bytes | None) -> list[x509.Certificate]:
    """The certificates of a PEM bundle, in order; empty when there is none or it does not parse."""
    if not data:
        return []
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        return []


def usable(cert: x509.Certificate, now: dt.datetime) -> bool:
    """Whether ``cert`` is valid at ``now`` with more than `MIN_REMAINING` left."""
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - now > MIN_REMAINING
