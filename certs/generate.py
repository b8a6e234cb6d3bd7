"""Make or reuse the webhook's CA and serving certificate on disk.

The kube-apiserver verifies the webhook against the ``caBundle`` of the webhook configuration, so
a re-run must keep a still-valid CA (the bundle does not change) and only make a new leaf when
asked (``rotate``) or when the existing one no longer fits. This module is the file side: it reads
what is there, lets `certs.pki` make and check the keys and certificates, and writes them
atomically, keys with mode 0600; file names are those of a ``kubernetes.io/tls`` Secret plus
``ca.crt`` and ``ca.key``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certs.errors import CertsError, InvalidInput
from certs.pki import (
    CA_CERT_FILE,
    CA_KEY_FILE,
    DEFAULT_CA_DAYS,
    DEFAULT_LEAF_DAYS,
    TLS_CERT_FILE,
    TLS_KEY_FILE,
    cert_pem,
    key_matches,
    key_pem,
    load_cert,
    load_ec_key,
    make_ca,
    make_leaf,
    san_names,
    service_dns_names,
    signed_by,
    usable,
    utcnow,
)


@dataclass(frozen=True)
class CertFiles:
    """Where the four PEM files of one certificate set live."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / CA_CERT_FILE

    @property
    def ca_key(self) -> Path:
        return self.directory / CA_KEY_FILE

    @property
    def tls_cert(self) -> Path:
        return self.directory / TLS_CERT_FILE

    @property
    def tls_key(self) -> Path:
        return self.directory / TLS_KEY_FILE


@dataclass(frozen=True)
class GenerateResult:
    """What `generate` did: the files, and whether the CA and the leaf were kept or made anew."""

    files: CertFiles
    ca_reused: bool
    leaf_reused: bool
    names: tuple[str, ...]
    leaf_not_after: dt.datetime
    ca_not_after: dt.datetime


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CertsError(f"cannot read {path}: {exc.strerror}") from None


def _load_existing_ca(
    files: CertFiles, now: dt.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None:
    cert_data, key_data = _read(files.ca_cert), _read(files.ca_key)
    if cert_data is None or key_data is None:
        return None
    cert, key = load_cert(cert_data), load_ec_key(key_data)
    if cert is None or key is None or not key_matches(key, cert) or not usable(cert, now):
        return None
    return key, cert


def _existing_leaf_fits(
    files: CertFiles, ca_cert: x509.Certificate, names: Sequence[str], now: dt.datetime
) -> x509.Certificate | None:
    cert_data, key_data = _read(files.tls_cert), _read(files.tls_key)
    if cert_data is None or key_data is None:
        return None
    cert, key = load_cert(cert_data), load_ec_key(key_data)
    if cert is None or key is None or not key_matches(key, cert):
        return None
    if not signed_by(cert, ca_cert) or not usable(cert, now):
        return None
    if not set(names) <= san_names(cert):
        return None
    return cert


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _prepare_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"--out: cannot create directory {directory}: {exc.strerror}") from None
    if not directory.is_dir():
        raise InvalidInput(f"--out: {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InvalidInput(f"--out: directory {directory} is not writable")


def generate(
    out: str | os.PathLike[str],
    service: str,
    namespace: str,
    *,
    days: int = DEFAULT_LEAF_DAYS,
    ca_days: int = DEFAULT_CA_DAYS,
    extra_sans: Iterable[str] = (),
    rotate: bool = False,
    now: dt.datetime | None = None,
) -> GenerateResult:
    """Make or reuse the CA and serving certificate for ``service`` in ``namespace`` under ``out``.

    A still-valid CA with its key is reused so the caBundle stays the same. The leaf is reused when
    it is valid, signed by that CA and covers every name, unless ``rotate`` asks for a new one.
    Raises `InvalidInput` for bad names, days or directories and `CertsError` for other failures.
    """
    if days <= 0:
        raise InvalidInput(f"--days: {days} is not a positive number of days")
    if ca_days <= 0:
        raise InvalidInput(f"--ca-days: {ca_days} is not a positive number of days")
    names = service_dns_names(service, namespace, extra_sans)
    files = CertFiles(Path(out))
    _prepare_dir(files.directory)
    now = now or utcnow()

    existing_ca = _load_existing_ca(files, now)
    if existing_ca is None:
        ca_key, ca_cert = make_ca(days=ca_days, now=now)
        write_atomic(files.ca_key, key_pem(ca_key), 0o600)
        write_atomic(files.ca_cert, cert_pem(ca_cert), 0o644)
    else:
        ca_key, ca_cert = existing_ca

    leaf = (
        None if rotate or existing_ca is None else _existing_leaf_fits(files, ca_cert, names, now)
    )
    leaf_reused = leaf is not None
    if leaf is None:
        leaf_key, leaf = make_leaf(ca_key, ca_cert, names, days=days, now=now)
        # Key first: a reader that sees the new cert next to the old key rejects the pair and waits.
        write_atomic(files.tls_key, key_pem(leaf_key), 0o600)
        write_atomic(files.tls_cert, cert_pem(leaf), 0o644)
    return GenerateResult(
        files=files,
        ca_reused=existing_ca is not None,
        leaf_reused=leaf_reused,
        names=names,
        leaf_not_after=leaf.not_valid_after_utc,
        ca_not_after=ca_cert.not_valid_after_utc,
    )
