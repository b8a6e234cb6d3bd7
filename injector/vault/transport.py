"""The one way the injector talks to Vault: one origin, no redirects, bounded answers, one table.

Why urllib3 directly and not requests or hvac: each of those decides things this module must
decide itself. They follow redirects (re-sending the token and a brand-new key wherever a 307
points), read answers of any size, add a CA bundle of their own next to ``VAULT_CACERT``, and decode
compressed bodies. Here one connection pool is bound to the scheme, host and port of ``VAULT_ADDR``
(urllib3 refuses any other host on it), every request is sent with redirects and urllib3's retries
off, at most `MAX_ANSWER` bytes of an answer are read (`MAX_LISTING` for ``sys/mounts``), and what
came off the wire goes to `injector.vault.replies.classify`: the reply table is decided there,
retries and re-logins in `injector.vault.session`. The TLS context comes from
`injector.vault.tls`.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import time
import warnings
from typing import Any, Final
from urllib.parse import quote

import urllib3
import urllib3.exceptions

from injector.errors import VaultError
from injector.redact import Redactor
from injector.settings.model import VaultSettings
from injector.vault.replies import Answer, Wire, classify
from injector.vault.schemas import Endpoint
from injector.vault.tls import FATAL_TLS_ERRORS, build_ssl_context, describe_error
from vsi_common import names

log = logging.getLogger("injector.vault")

MAX_ANSWER: Final = 64 * 1024
"""Most bytes read of one answer: Vault's answers to the injector are a few hundred bytes."""
MAX_LISTING: Final = 1024 * 1024
"""Most bytes read of a ``sys/mounts`` listing (one entry per mount)."""
CONNECT_TIMEOUT: Final = 5.0
"""Longest TCP+TLS connect per attempt, in seconds (never beyond the deadline)."""
READ_TIMEOUT: Final = 15.0
"""Longest wait for each read of an answer, in seconds (never beyond the deadline)."""
USER_AGENT: Final = "vsi-injector"
"""The User-Agent of every request."""

_SAFE_PATH: Final = re.compile(r"^[A-Za-z0-9._@+=:/-]+$")


class Failure(Exception):
    """No answer came back: the connection failed (``transient``) or TLS cannot work (fatal)."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        """One line, no secret."""
        self.transient = transient
        """True when another attempt may succeed (refused, reset, timed out, handshake cut)."""


def describe_exception(exc: BaseException) -> str:
    """A short, secret-free line for a transport error (urllib3 wraps the real reason deeply)."""
    cause = exc.args[1] if len(exc.args) > 1 else None
    if isinstance(exc, urllib3.exceptions.ProtocolError) and isinstance(cause, OSError):
        return cause.strerror or type(cause).__name__  # ('Connection aborted.', reset by peer)
    return describe_error(
        exc,
        tls_errors=(urllib3.exceptions.SSLError, ssl.SSLError),
        timeouts=(urllib3.exceptions.TimeoutError, TimeoutError),
    )


class Transport:
    """Requests to the origin of ``VAULT_ADDR`` only, each answer classified by the table.

    Thread-safe: the pool hands each concurrent request its own connection.
    """

    def __init__(self, settings: VaultSettings, redactor: Redactor, pool_size: int = 10) -> None:
        self.addr = settings.addr
        self.redactor = redactor
        self._namespace = settings.namespace
        origin = settings.origin
        host = origin.host
        self.scheme = origin.scheme
        self.host = host
        self.port = origin.port
        self.origin = origin.url
        """Where every request goes: scheme, host and port of VAULT_ADDR."""
        self._prefix = origin.prefix
        common: dict[str, Any] = {"maxsize": max(pool_size, 2), "block": False, "retries": False}
        self._pool: urllib3.HTTPConnectionPool
        if self.scheme == "https":
            tls = settings.tls
            if tls.skip_verify:
                log.warning(
                    "VAULT_SKIP_VERIFY is set: the Vault server certificate is NOT verified; "
                    "anyone on the network path can impersonate Vault and receive the token and "
                    "the keys"
                )
                # Said once above, as a log line; urllib3 would repeat it on stderr per request.
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            name = tls.server_name
            self._pool = urllib3.HTTPSConnectionPool(
                host,
                self.port,
                ssl_context=build_ssl_context(tls),
                server_hostname=name,
                assert_hostname=False if tls.skip_verify else name,
                **common,
            )
        else:
            log.warning(
                "VAULT_ADDR uses http://: the token, the AppRole or Kubernetes credentials and "
                "every key cross the network in clear text; use https:// outside development"
            )
            self._pool = urllib3.HTTPConnectionPool(host, self.port, **common)

    def close(self) -> None:
        """Close pooled connections."""
        self._pool.close()

    def url_path(self, path: str) -> str:
        """The request target for a logical path (``<prefix>/v1/<path>``); refuses odd paths."""
        if (
            not _SAFE_PATH.match(path)
            or "//" in path
            or any(s in (".", "..") for s in path.split("/"))
        ):
            raise VaultError(f"refusing to request the unsafe path {path!r}")
        return f"{self._prefix}/v1/{quote(path, safe='/@+=:-._')}"

    def send(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        *,
        token: str | None,
        body: dict[str, Any] | None,
        timeout: float,
    ) -> Answer:
        """One attempt: the classified answer; raises `Failure` when no answer came back."""
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        limit = MAX_LISTING if endpoint is Endpoint.MOUNTS else MAX_ANSWER
        answered = False
        try:
            response = self._pool.urlopen(
                method,
                self.url_path(path),
                body=data,
                headers=self._headers(token, json_body=data is not None),
                retries=False,
                redirect=False,
                assert_same_host=True,
                timeout=urllib3.Timeout(
                    connect=min(CONNECT_TIMEOUT, timeout), read=min(READ_TIMEOUT, timeout)
                ),
                preload_content=False,
                decode_content=False,
            )
            answered = True
            try:
                wire = _read_bounded(response, limit)
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            raise self._failure(exc, answered) from None
        except (ConnectionError, TimeoutError) as exc:
            raise self._failure(exc, answered) from None
        return classify(endpoint, wire, self.redactor, now=time.time())

    def _headers(self, token: str | None, *, json_body: bool) -> dict[str, str]:
        """The headers of one request: no compression, the token and namespace when there are."""
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": "identity",
            "User-Agent": USER_AGENT,
            "X-Vault-Request": "true",
        }
        if token:
            headers["X-Vault-Token"] = token
        if self._namespace:
            headers["X-Vault-Namespace"] = self._namespace
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _failure(self, exc: Exception, answered: bool) -> Failure:
        """The `Failure` for an attempt that got no (whole) answer: TLS, network or protocol."""
        described = describe_exception(exc)
        if isinstance(exc, urllib3.exceptions.SSLError):
            if FATAL_TLS_ERRORS.search(str(exc)):
                return Failure(
                    f"{described} talking to {self.addr} (check {names.VAULT_CACERT}, "
                    f"{names.VAULT_CAPATH}, {names.VAULT_TLS_SERVER_NAME}, "
                    f"{names.VAULT_CLIENT_CERT}/KEY)",
                    transient=False,
                )
            return Failure(f"{self.addr} unreachable: {described}", transient=True)
        if isinstance(
            exc,
            urllib3.exceptions.TimeoutError
            | urllib3.exceptions.ProtocolError
            | urllib3.exceptions.IncompleteRead
            | ConnectionError
            | TimeoutError,
        ):
            if answered:
                described += " while reading the answer"
            elif self.scheme == "https" and isinstance(exc, urllib3.exceptions.ProtocolError):
                # Cut before any status line: the TLS session (handshake or request) was dropped.
                described = f"TLS error: {described} before an answer"
            return Failure(f"{self.addr} unreachable: {described}", transient=True)
        return Failure(f"talking to {self.addr}: {self.redactor.quote(described)}", transient=False)


def _read_bounded(response: urllib3.BaseHTTPResponse, limit: int) -> Wire:
    """The answer with at most ``limit`` bytes of body; a larger one is cut and marked."""
    headers = response.headers

    def wire(body: bytes, complete: bool) -> Wire:
        return Wire(
            status=response.status,
            content_type=headers.get("Content-Type", ""),
            body=body,
            complete=complete,
            limit=limit,
            location=headers.get("Location", ""),
            retry_after=headers.get("Retry-After", ""),
            content_encoding=headers.get("Content-Encoding", ""),
        )

    declared = headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        response.close()  # not worth reading: the connection is dropped instead of drained
        return wire(b"", complete=False)
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = response.read(min(64 * 1024, limit + 1 - size), decode_content=False)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            response.close()
            return wire(b"", complete=False)
    return wire(b"".join(chunks), complete=True)
