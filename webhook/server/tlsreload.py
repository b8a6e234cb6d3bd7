"""The serving certificate, hot-reloaded from its files without a restart.

Kubernetes updates a mounted ``kubernetes.io/tls`` Secret by swapping the volume's ``..data``
symlink; cert-manager or ``vsi-certs --rotate`` replace the pair every few weeks, and the webhook
must pick up the new pair without dropping a request. The server keeps one `ssl.SSLContext` (TLS
1.2 minimum) whose SNI callback (called by OpenSSL for every handshake, with or without SNI)
switches the connection to the newest loaded context. The files are polled by content; a new pair
is first loaded into a fresh context, so a pair that does not parse or does not match keeps the old
one serving.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from vsi_common.logs import fields
from webhook.errors import UsageError

log = logging.getLogger(__name__)

MIN_TLS_VERSION = ssl.TLSVersion.TLSv1_2
"""Oldest TLS version offered (the kube-apiserver speaks 1.2 and 1.3)."""


class CertLoadError(Exception):
    """The files do not make a usable pair; the message is one line without key bytes."""


@dataclass(frozen=True)
class LoadedCert:
    """A certificate pair in use: its context and what logs and metrics show about it."""

    context: ssl.SSLContext
    serial: int
    not_after: dt.datetime
    digest: str
    """SHA-256 of the two files' bytes: tells a change from a re-read."""


def new_server_context() -> ssl.SSLContext:
    """A server context with our protocol floor and no compression or renegotiation."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MIN_TLS_VERSION
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return context


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CertLoadError(f"cannot read {path}: {exc.strerror or exc}") from None


def _digest(cert_data: bytes, key_data: bytes) -> str:
    return hashlib.sha256(cert_data + b"\0" + key_data).hexdigest()


def load_pair(cert_path: Path, key_path: Path) -> LoadedCert:
    """Load and check one certificate/key pair from disk into a fresh server context.

    Raises `CertLoadError` when a file is missing, does not parse, or the key does not match.
    """
    cert_data, key_data = _read(cert_path), _read(key_path)
    try:
        cert = x509.load_pem_x509_certificate(cert_data)
    except ValueError:
        raise CertLoadError(f"{cert_path} is not a PEM certificate") from None
    context = new_server_context()
    try:
        context.load_cert_chain(cert_path, key_path)
    except ssl.SSLError as exc:
        problem = "does not match" if "mismatch" in str(exc).lower() else "is not usable with"
        raise CertLoadError(
            f"the key in {key_path} {problem} the certificate {cert_path}"
        ) from None
    except OSError as exc:
        raise CertLoadError(f"cannot read the certificate pair: {exc.strerror or exc}") from None
    # The files may have been swapped between our read and OpenSSL's: only accept a stable pair.
    if _read(cert_path) != cert_data or _read(key_path) != key_data:
        raise CertLoadError("the certificate files changed while loading; retrying")
    return LoadedCert(
        context=context,
        serial=cert.serial_number,
        not_after=cert.not_valid_after_utc,
        digest=_digest(cert_data, key_data),
    )


class CertReloader:
    """Serves the newest good certificate pair found at ``cert_path``/``key_path``."""

    def __init__(
        self,
        cert_path: Path,
        key_path: Path,
        *,
        failures_unready: int = 3,
        on_change: Callable[[LoadedCert, bool], None] | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.cert_path = cert_path
        self.key_path = key_path
        self._failures_unready = failures_unready
        self._on_change = on_change
        self._on_failure = on_failure
        self._current: LoadedCert | None = None
        self._failures = 0
        self._last_error: str | None = None
        self._server = new_server_context()
        self._server.sni_callback = self._select

    @property
    def server_context(self) -> ssl.SSLContext:
        """The context to listen with; valid once `load_initial` returned."""
        return self._server

    @property
    def current(self) -> LoadedCert | None:
        """The pair new handshakes get."""
        return self._current

    def _select(self, conn: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        current = self._current
        if current is not None and conn.context is not current.context:
            conn.context = current.context

    def _use(self, loaded: LoadedCert, *, reloaded: bool) -> None:
        self._current = loaded
        if self._on_change is not None:
            self._on_change(loaded, reloaded)

    def load_initial(self) -> LoadedCert:
        """Load the pair at start-up; raises `UsageError` (one line) when it is not usable."""
        try:
            loaded = load_pair(self.cert_path, self.key_path)
        except CertLoadError as exc:
            raise UsageError(f"--tls-cert/--tls-key: {exc}") from None
        # The listening context holds the first pair too, for a handshake that skips the callback.
        self._server.load_cert_chain(self.cert_path, self.key_path)
        self._use(loaded, reloaded=False)
        log.info(
            "certificate loaded",
            extra=fields(serial=f"{loaded.serial:x}", not_after=loaded.not_after.isoformat()),
        )
        return loaded

    def poll(self) -> bool:
        """Check the files once; load a changed pair. True when a new pair is now served.

        Blocking (file reads, key parsing): run it in a thread.
        """
        current = self._current
        try:
            cert_data, key_data = _read(self.cert_path), _read(self.key_path)
            digest = _digest(cert_data, key_data)
            if current is not None and digest == current.digest:
                self._failures = 0
                self._last_error = None
                return False
            loaded = load_pair(self.cert_path, self.key_path)
        except CertLoadError as exc:
            self._fail(str(exc))
            return False
        self._failures = 0
        self._last_error = None
        self._use(loaded, reloaded=True)
        log.info(
            "certificate reloaded",
            extra=fields(serial=f"{loaded.serial:x}", not_after=loaded.not_after.isoformat()),
        )
        return True

    def _fail(self, message: str) -> None:
        self._failures += 1
        first = message != self._last_error
        self._last_error = message
        if self._on_failure is not None and first:
            self._on_failure()
        if first or self._failures == self._failures_unready:
            log.warning(
                "certificate files refused; still serving the previous certificate",
                extra=fields(error=message, consecutive_failures=self._failures),
            )

    def readiness(self) -> str | None:
        """None when ready, else why not (one line)."""
        if self._current is None:
            return "no certificate loaded yet"
        if self._failures >= self._failures_unready:
            return f"certificate files refused {self._failures} times in a row: {self._last_error}"
        return None

    async def watch(self, interval: float) -> None:
        """Poll forever, every ``interval`` seconds, off the event loop."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.poll)
            except Exception:
                log.exception("certificate check crashed; will retry")
