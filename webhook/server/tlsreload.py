"""The serving certificate, hot-reloaded from its files without a restart.

Kubernetes updates a mounted ``kubernetes.io/tls`` Secret by swapping the volume's ``..data``
symlink; cert-manager or ``vsi-certs --rotate`` replace the pair every few weeks, and the webhook
must pick up the new pair without dropping a request. The server keeps one `ssl.SSLContext` (TLS
1.2 minimum) whose SNI callback (called by OpenSSL for every handshake, with or without SNI)
switches the connection to the newest loaded context. The files are polled by content; a new pair
is first loaded into a fresh context, so a pair that does not parse or does not match keeps the old
one serving.

The paths are someone else's to change, so reading them can neither hang nor balloon: only regular
files of at most `MAX_PEM_BYTES` are read (`vsi_common.files.read_regular_file`: a FIFO, a device,
a directory or a symlink loop is refused at once), OpenSSL loads the very bytes that were read
(from an in-memory file: it never opens the paths itself), an encrypted key is refused instead of
making OpenSSL prompt for a passphrase, and each check runs in a daemon thread under a timeout
(`webhook.server.blocking`), so a stuck read neither stops later checks from being counted nor
keeps SIGTERM from ending the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NoReturn

from cryptography import x509

from vsi_common.files import MIB, UnreadableFile, read_regular_file
from vsi_common.logs import fields
from webhook.errors import UsageError
from webhook.server.blocking import Offloader, TimedOut, TooManyStuck
from webhook.server.settings import DEFAULT_RELOAD_TIMEOUT

log = logging.getLogger(__name__)

MIN_TLS_VERSION = ssl.TLSVersion.TLSv1_2
"""Oldest TLS version offered (the kube-apiserver speaks 1.2 and 1.3)."""
MAX_PEM_BYTES: Final = MIB
"""Largest certificate chain or key file read; a chain is a few KiB."""

FileReader = Callable[[Path], bytes]
"""Reads one certificate or key file (raises `CertLoadError`)."""


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


def read_pem(path: Path) -> bytes:
    """The bytes of a regular file of at most `MAX_PEM_BYTES`, else `CertLoadError`."""
    try:
        return read_regular_file(path, max_bytes=MAX_PEM_BYTES)
    except UnreadableFile as exc:
        raise CertLoadError(str(exc)) from None


def _digest(cert_data: bytes, key_data: bytes) -> str:
    return hashlib.sha256(cert_data + b"\0" + key_data).hexdigest()


@contextlib.contextmanager
def _in_memory(data: bytes, name: str) -> Iterator[str]:
    """A path OpenSSL can open that holds exactly ``data`` (a memfd; nothing touches a disk)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def load_into(
    context: ssl.SSLContext, cert_data: bytes, key_data: bytes, cert_path: Path, key_path: Path
) -> None:
    """Load the pair into ``context``; `CertLoadError` naming the paths when it is not usable."""

    def no_passphrase() -> NoReturn:
        raise CertLoadError(
            f"the key in {key_path} is encrypted: the webhook needs an unencrypted key "
            "(as a kubernetes.io/tls Secret holds it)"
        )

    try:
        with _in_memory(cert_data, "tls.crt") as cert, _in_memory(key_data, "tls.key") as key:
            context.load_cert_chain(cert, key, password=no_passphrase)
    except ssl.SSLError as exc:
        problem = "does not match" if "mismatch" in str(exc).lower() else "is not usable with"
        raise CertLoadError(
            f"the key in {key_path} {problem} the certificate {cert_path}"
        ) from None
    except OSError as exc:
        raise CertLoadError(f"cannot load the certificate pair: {exc.strerror or exc}") from None


def load_pair(cert_path: Path, key_path: Path, read: FileReader = read_pem) -> LoadedCert:
    """Load and check one certificate/key pair from disk into a fresh server context.

    Raises `CertLoadError` when a file is unreadable, does not parse, or the key does not match.
    """
    cert_data, key_data = read(cert_path), read(key_path)
    try:
        cert = x509.load_pem_x509_certificate(cert_data)
    except ValueError:
        raise CertLoadError(f"{cert_path} is not a PEM certificate") from None
    context = new_server_context()
    load_into(context, cert_data, key_data, cert_path, key_path)
    # The files may have been swapped between the two reads: only accept a stable pair.
    if read(cert_path) != cert_data or read(key_path) != key_data:
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
        on_failure: Callable[[str], None] | None = None,
        read: FileReader = read_pem,
        check_timeout: float = DEFAULT_RELOAD_TIMEOUT,
    ) -> None:
        self.cert_path = cert_path
        self.key_path = key_path
        self._failures_unready = failures_unready
        self._on_change = on_change
        self._on_failure = on_failure
        """Called with ``failure`` or ``timeout`` once per distinct refusal."""
        self._read = read
        self._current: LoadedCert | None = None
        self._failures = 0
        self._last_error: str | None = None
        self._server = new_server_context()
        self._server.sni_callback = self._select
        self._checks = Offloader("certificate check", check_timeout)

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

    def _load_first(self) -> LoadedCert:
        loaded = load_pair(self.cert_path, self.key_path, self._read)
        # The listening context holds the first pair too, for a handshake that skips the callback.
        cert_data, key_data = self._read(self.cert_path), self._read(self.key_path)
        if _digest(cert_data, key_data) != loaded.digest:
            raise CertLoadError("the certificate files changed while loading; retrying")
        load_into(self._server, cert_data, key_data, self.cert_path, self.key_path)
        return loaded

    async def load_initial(self) -> LoadedCert:
        """Load the pair at start-up; `UsageError` (one line) when it is not usable in time."""
        try:
            loaded = await self._checks.run(self._load_first)
        except (CertLoadError, TimedOut) as exc:
            raise UsageError(f"--tls-cert/--tls-key: {exc}") from None
        self._use(loaded, reloaded=False)
        log.info(
            "certificate loaded",
            extra=fields(serial=f"{loaded.serial:x}", not_after=loaded.not_after.isoformat()),
        )
        return loaded

    def check(self) -> LoadedCert | None:
        """The pair at the paths if it differs from the one in use (None: unchanged).

        Blocking (file reads, key parsing): `watch` runs it in a thread. Raises `CertLoadError`.
        """
        current = self._current
        cert_data, key_data = self._read(self.cert_path), self._read(self.key_path)
        if current is not None and _digest(cert_data, key_data) == current.digest:
            return None
        return load_pair(self.cert_path, self.key_path, self._read)

    def poll(self) -> bool:
        """`check` once, here, and apply it. True when a new pair is now served."""
        try:
            loaded = self.check()
        except CertLoadError as exc:
            self._fail(str(exc), "failure")
            return False
        return self._apply(loaded)

    def _apply(self, loaded: LoadedCert | None) -> bool:
        self._failures = 0
        self._last_error = None
        if loaded is None:
            return False
        self._use(loaded, reloaded=True)
        log.info(
            "certificate reloaded",
            extra=fields(serial=f"{loaded.serial:x}", not_after=loaded.not_after.isoformat()),
        )
        return True

    def _fail(self, message: str, result: str) -> None:
        self._failures += 1
        first = message != self._last_error
        self._last_error = message
        if self._on_failure is not None and first:
            self._on_failure(result)
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
        """Check every ``interval`` seconds, in a daemon thread, under the check timeout."""
        while True:
            await asyncio.sleep(interval)
            try:
                loaded = await self._checks.run(self.check)
            except CertLoadError as exc:
                self._fail(str(exc), "failure")
            except (TimedOut, TooManyStuck) as exc:
                self._fail(str(exc), "timeout")
            except Exception:
                log.exception("certificate check crashed; will retry")
            else:
                self._apply(loaded)
