"""The Vault session: hvac over one pooled requests Session, with auth, TLS, retries and a deadline.

Why a wrapper around hvac: the injector must treat every Vault answer the same way (retry the
transient ones with capped, jittered backoff inside one deadline; re-login once when a token is
rejected; never retry 400/403/404; never put a secret in an error), and some answers are data
rather than errors (a 404 body says whether a KV v2 key was deleted). So requests go through hvac's
`RawAdapter` (token, namespace and ``X-Vault-Request`` headers, URL joining) with exceptions off,
and `VaultSession.request` maps statuses to outcomes in one place.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
import warnings
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import hvac
import hvac.adapters
import requests
import requests.adapters
import urllib3

from injector.deadline import Deadline as Deadline  # re-exported: the session's clock
from injector.errors import VaultError
from injector.model import AppRoleAuth, KubernetesAuth, TlsSettings, TokenAuth, VaultSettings
from vsi_common.logs import fields

log = logging.getLogger(__name__)

RETRY_STATUSES: Final = frozenset({412, 429, 500, 502, 503})
"""Statuses retried with backoff: consistency (412), rate limits, server errors, sealed (503)."""
TRANSIENT_ERRORS: Final = re.compile(r"sealed|standby|not active|leader|(?i:timeout)")
"""Error texts that mark an answer as transient whatever its status (sealed Vault, standby node)."""
RELOGIN_ERRORS: Final = re.compile(r"permission denied|invalid token|token not found|expired")
"""403 error texts after which a re-loginable session checks its token (lookup-self)."""
LOOKUP_SELF: Final = "auth/token/lookup-self"
"""Asked once after a 403: when it is refused too, the token itself is bad and a re-login helps."""
CAPABILITIES_SELF: Final = "sys/capabilities-self"
"""Tells a token its own capabilities on paths (the default policy grants it)."""
FATAL_TLS_ERRORS: Final = re.compile(
    r"certificate verify failed|CERTIFICATE_VERIFY_FAILED|hostname|doesn't match|match either"
    r"|certificate required|CERTIFICATE_REQUIRED|bad certificate|BAD_CERTIFICATE|unknown ca"
    r"|UNKNOWN_CA|PEM lib|key values mismatch",
)
"""TLS errors that retrying cannot fix (verification, name, client certificate); others retry."""
BACKOFF_BASE: Final = 0.05
"""First retry waits up to this many seconds; doubles per attempt (full jitter)."""
BACKOFF_CAP: Final = 2.0
"""Longest single wait between attempts, in seconds."""
CONNECT_TIMEOUT: Final = 5.0
"""Longest TCP+TLS connect per attempt, in seconds (never beyond the deadline)."""
READ_TIMEOUT: Final = 15.0
"""Longest wait for an answer per attempt, in seconds (never beyond the deadline)."""
MIN_ATTEMPT: Final = 0.05
"""An attempt needs at least this many seconds left in the deadline to be worth starting."""
UI_MOUNTS: Final = "sys/internal/ui/mounts"
"""Endpoint that tells any token that may use a path which mount (type, KV version) serves it."""
SYS_MOUNTS: Final = "sys/mounts"
"""Fallback mount listing; needs ``read`` on ``sys/mounts``."""

_ERRNO_TEXT: Final = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
_SSL_TEXT: Final = re.compile(r"certificate verify failed[^'\"(]*|\[SSL: [A-Z_]+\] [^'\"(]*")
_EOF_TEXT: Final = re.compile(r"EOF occurred in violation of protocol|Connection reset by peer")


@dataclass(frozen=True)
class Reply:
    """One Vault answer the caller asked to see (2xx, or a status it listed as expected)."""

    status: int
    """HTTP status."""
    body: dict[str, Any] = field(repr=False)
    """Decoded JSON body ({} when empty); may hold secrets, so never in repr."""

    @property
    def data(self) -> dict[str, Any]:
        """The ``data`` object of the answer, {} when absent."""
        data = self.body.get("data")
        return data if isinstance(data, dict) else {}

    @property
    def errors(self) -> str:
        """Vault's ``errors`` list as one line."""
        errs = self.body.get("errors") or []
        return "; ".join(" ".join(str(e).split()) for e in errs) if isinstance(errs, list) else ""


def describe_exception(exc: BaseException) -> str:
    """A short, secret-free line for a transport error (requests wraps the real reason deeply)."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        match = _SSL_TEXT.search(text) or _EOF_TEXT.search(text)
        return "TLS error: " + (match.group(0).strip() if match else "handshake failed")
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    match = _ERRNO_TEXT.search(text)
    if match:
        return match.group(1).strip()
    return f"{type(exc).__name__}: {text[:200]}"


class ServerNameAdapter(requests.adapters.HTTPAdapter):
    """A transport adapter that verifies the certificate against, and sends SNI for, a fixed name.

    VAULT_TLS_SERVER_NAME: connect to the host in VAULT_ADDR (often an IP) but check the name the
    certificate was issued for. urllib3 takes both as pool keywords.
    """

    def __init__(self, server_name: str, **kwargs: Any) -> None:
        self.server_name = server_name
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs["server_hostname"] = self.server_name
        pool_kwargs["assert_hostname"] = self.server_name
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


def build_http_session(tls: TlsSettings, pool_size: int) -> requests.Session:
    """A requests Session with the TLS settings and a pool big enough for concurrent fetches."""
    session = requests.Session()
    session.trust_env = False
    adapter: requests.adapters.HTTPAdapter
    if tls.server_name is not None:
        adapter = ServerNameAdapter(tls.server_name, pool_connections=1, pool_maxsize=pool_size)
    else:
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount(
        "http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
    )
    if tls.skip_verify:
        log.warning(
            "VAULT_SKIP_VERIFY is set: the Vault server certificate is NOT verified; anyone on the "
            "network path can impersonate Vault and receive the token and the keys"
        )
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        session.verify = False
    elif tls.cacert is not None:
        session.verify = str(tls.cacert)
    elif tls.capath is not None:
        session.verify = str(tls.capath)
    if tls.client_cert is not None and tls.client_key is not None:
        session.cert = (str(tls.client_cert), str(tls.client_key))
    return session


class VaultSession:
    """An authenticated hvac client plus the retry, re-login and deadline rules of the injector."""

    def __init__(self, settings: VaultSettings, deadline: Deadline, pool_size: int = 10) -> None:
        self.settings = settings
        self.deadline = deadline
        self._http = build_http_session(settings.tls, max(pool_size, 2))
        token = settings.auth.token if isinstance(settings.auth, TokenAuth) else None
        self._client = hvac.Client(
            url=settings.addr,
            token=token,
            session=self._http,
            verify=self._http.verify,
            cert=self._http.cert,  # type: ignore[arg-type]  # hvac accepts requests' cert tuple
            namespace=settings.namespace,
            adapter=hvac.adapters.RawAdapter,
        )
        self._login_lock = threading.Lock()
        self._login_generation = 0
        self._random = secrets.SystemRandom()

    @property
    def can_relogin(self) -> bool:
        """True when the auth method can mint a new token (kubernetes, approle)."""
        return not isinstance(self.settings.auth, TokenAuth)

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

    def login(self) -> None:
        """Authenticate when the method needs it; a static token costs no request here."""
        auth = self.settings.auth
        if isinstance(auth, TokenAuth):
            return
        if isinstance(auth, KubernetesAuth):
            jwt = _read_jwt(auth.jwt_path)
            path, payload = f"auth/{auth.mount}/login", {"role": auth.role, "jwt": jwt}
            what = f"kubernetes login (role {auth.role!r}, mount {auth.mount!r})"
        else:
            assert isinstance(auth, AppRoleAuth)
            path = f"auth/{auth.mount}/login"
            payload = {"role_id": auth.role_id, "secret_id": auth.secret_id}
            what = f"approle login (mount {auth.mount!r})"
        reply = self.request("POST", path, json=payload, what=what, relogin=False)
        token = (reply.body.get("auth") or {}).get("client_token")
        if not isinstance(token, str) or not token:
            raise VaultError(f"{what}: Vault answered without a client token")
        self._client.adapter.token = token
        self._login_generation += 1
        log.debug("logged in", extra=fields(auth_method=self.settings.auth_method))

    def _relogin(self, seen_generation: int) -> None:
        with self._login_lock:
            if self._login_generation == seen_generation:
                log.info(
                    "token rejected, logging in again",
                    extra=fields(auth_method=self.settings.auth_method),
                )
                self.login()

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: dict[str, Any] | None = None,
        expect: Collection[int] = (),
        relogin: bool = True,
    ) -> Reply:
        """Send one logical request; retry transient failures until the deadline.

        Returns 2xx answers and those whose status is in ``expect``; raises `VaultError` (with
        ``what`` first, no secret) for anything else.
        """
        attempt = 0
        relogged = False
        last = ""
        while True:
            remaining = self.deadline.remaining()
            if remaining < MIN_ATTEMPT:
                raise self._gave_up(what, last or "none")
            generation = self._login_generation
            self.deadline.doing(what)
            answer = self._send(method, path, json, remaining, what)
            if isinstance(answer, str):
                last = answer
            else:
                reply = answer
                status = reply.status
                if status < 400 or status in expect:
                    return reply
                errors = reply.errors
                if (
                    status == 403
                    and relogin
                    and not relogged
                    and self.can_relogin
                    and RELOGIN_ERRORS.search(errors)
                ):
                    relogged = True
                    if self._token_rejected():
                        self._relogin(generation)
                        continue
                transient, summary = _judge(reply, method, path, relogin)
                if not transient:
                    raise VaultError(f"{what}: {summary}")
                last = summary
            delay = self._random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
            attempt += 1
            if delay > self.deadline.remaining() - MIN_ATTEMPT:
                raise self._gave_up(what, last)
            # The first retry of a request is worth a line: an init container waiting on a sealed
            # or restarting Vault should say so; later attempts of the same request stay quiet.
            log.log(
                logging.WARNING if attempt == 1 else logging.DEBUG,
                "Vault not ready, retrying until the deadline",
                extra=fields(what=what, attempt=attempt, error=last),
            )
            time.sleep(delay)

    def _send(
        self, method: str, path: str, json: dict[str, Any] | None, remaining: float, what: str
    ) -> Reply | str:
        """One attempt: Vault's answer, or the transport failure worth retrying (others raise)."""
        try:
            response = self._client.adapter.request(
                method.lower(),
                f"/v1/{path}",
                json=json,
                raise_exception=False,
                timeout=(min(CONNECT_TIMEOUT, remaining), min(READ_TIMEOUT, remaining)),
            )
        except requests.exceptions.SSLError as exc:
            if FATAL_TLS_ERRORS.search(str(exc)):
                raise VaultError(
                    f"{what}: {describe_exception(exc)} talking to {self.settings.addr} (check "
                    "VAULT_CACERT, VAULT_CAPATH, VAULT_TLS_SERVER_NAME, VAULT_CLIENT_CERT/KEY)"
                ) from None
            return f"{self.settings.addr} unreachable: {describe_exception(exc)}"
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            return f"{self.settings.addr} unreachable: {describe_exception(exc)}"
        except requests.exceptions.RequestException as exc:
            raise VaultError(f"{what}: {describe_exception(exc)}") from None
        return Reply(response.status_code, _json_body(response))

    def _token_rejected(self) -> bool:
        """True when Vault refuses the token itself, not just one path (403 on lookup-self)."""
        reply = self.request(
            "GET", LOOKUP_SELF, what="checking the token", expect=(401, 403), relogin=False
        )
        return reply.status in (401, 403)

    def capabilities(self, path: str) -> frozenset[str]:
        """The token's capabilities on ``path`` (``sys/capabilities-self``)."""
        what = f"checking the token's capabilities on {path}"
        reply = self.request("POST", CAPABILITIES_SELF, what=what, json={"paths": [path]})
        found = reply.data.get(path, reply.body.get(path, reply.data.get("capabilities")))
        if found is None:
            found = reply.body.get("capabilities")
        if not isinstance(found, list):
            raise VaultError(f"{what}: Vault answered without a capability list")
        return frozenset(str(c) for c in found)

    def _gave_up(self, what: str, last: str) -> VaultError:
        return VaultError(
            f"{what}: gave up at the {self.deadline.seconds:g}s deadline; last error: {last}"
        )

    def kv_version(self, mount: str, probe: str) -> int:
        """The KV version of ``mount``: from sys/internal/ui/mounts, else sys/mounts.

        ``probe`` is a secret path under the mount that the token may use; Vault answers the UI
        endpoint to any token with a capability there, which works under least-privilege policies.
        """
        what = f"detecting the KV version of mount {mount!r}"
        reply = self.request(
            "GET", f"{UI_MOUNTS}/{mount}/{probe}", what=what, expect=(400, 403, 404)
        )
        if reply.status == 200:
            return _version_of(reply.data, mount, what)
        first = reply.errors or str(reply.status)
        reply = self.request("GET", SYS_MOUNTS, what=what, expect=(403,))
        if reply.status == 200:
            mounts = reply.data or reply.body
            entry = mounts.get(f"{mount}/")
            if not isinstance(entry, dict):
                raise VaultError(f"{what}: there is no mount {mount!r} (VAULT_BACKEND_PATH)")
            return _version_of(entry, mount, what)
        raise VaultError(
            f"{what}: the token may read neither {UI_MOUNTS}/{mount}/... ({first}; grant a "
            f"capability on the key paths) nor {SYS_MOUNTS} (grant read on sys/mounts); or set "
            "VAULT_BACKEND=kv or kv-v2"
        )


def _judge(reply: Reply, method: str, path: str, relogin: bool) -> tuple[bool, str]:
    """Whether an unwanted answer is worth retrying, and the one line that describes it."""
    status, errors = reply.status, reply.errors
    transient = status in RETRY_STATUSES or bool(TRANSIENT_ERRORS.search(errors))
    if status in (400, 403, 404) and "sealed" not in errors and "standby" not in errors:
        transient = False
    summary = f"Vault answered {status} to {method} {path}" + (f": {errors}" if errors else "")
    if status == 403 and relogin:
        summary += " (the token's policy does not allow this)"
    return transient, summary


def _version_of(entry: dict[str, Any], mount: str, what: str) -> int:
    kind = entry.get("type")
    if kind not in ("kv", "generic"):
        raise VaultError(f"{what}: mount {mount!r} is a {kind!r} secrets engine, expected kv")
    options = entry.get("options") or {}
    return 2 if str(options.get("version", "1")) == "2" else 1


def _json_body(response: requests.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {"errors": [response.text[:200]]}
    return body if isinstance(body, dict) else {}


def _read_jwt(path: Path) -> str:
    try:
        jwt = path.read_text().strip()
    except OSError as exc:
        raise VaultError(
            f"kubernetes login: cannot read the service-account token {path}: {exc.strerror}"
        ) from None
    if not jwt:
        raise VaultError(f"kubernetes login: the service-account token file {path} is empty")
    return jwt
