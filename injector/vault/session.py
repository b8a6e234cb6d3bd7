"""The Vault session: login, re-login, retries within the deadline, typed results per endpoint.

`injector.vault.transport` sends each request to the origin of ``VAULT_ADDR`` and
`injector.vault.replies` says what the reply means; this module decides what to do about it, the
same way for every request: `VaultSession.call` returns the endpoint's success or one of the
refusals its `Endpoint` admits (a KV v2 read is ``Kv2Secret | NotFound``), retries what is
`Outcome.TRANSIENT` (and transport failures) with capped, jittered backoff or the server's
``Retry-After`` inside the one deadline, logs in again once when a token is rejected (never on a
plain policy denial), and raises a one-line `VaultError` for everything else. The endpoint helpers
(`VaultSession.capabilities`, `token_lookup`, `mount`, `kv_version`) are what a run and a
preflight check both use; the KV mount's are `injector.vault.kv`'s.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

from injector.deadline import Deadline as Deadline  # re-exported: the session's clock
from injector.errors import VaultDenied, VaultError
from injector.redact import Redactor
from injector.settings.model import AppRoleAuth, KubernetesAuth, TokenAuth, VaultSettings
from injector.vault import endpoints as ep
from injector.vault.endpoints import Denied, Endpoint, NotFound
from injector.vault.replies import Outcome, Reply
from injector.vault.schemas import Mount, TokenInfo
from injector.vault.transport import Failure, Transport
from vsi_common.files import UnreadableFile, read_regular_file
from vsi_common.logs import fields

# The logger keeps the name it had before the package split: it is a field of every JSON line.
log = logging.getLogger("injector.vault")

RELOGIN_ERRORS: Final = re.compile(r"permission denied|invalid token|token not found|expired")
"""403 error texts after which a re-loginable session checks its token (lookup-self)."""
LOOKUP_SELF: Final = "auth/token/lookup-self"
"""Asked once after a 403: when it is refused too, the token itself is bad and a re-login helps."""
CAPABILITIES_SELF: Final = "sys/capabilities-self"
"""Tells a token its own capabilities on paths (the default policy grants it)."""
UI_MOUNTS: Final = "sys/internal/ui/mounts"
"""Endpoint that tells any token that may use a path which mount (type, KV version) serves it."""
SYS_MOUNTS: Final = "sys/mounts"
"""Fallback mount listing; needs ``read`` on ``sys/mounts``."""
BACKOFF_BASE: Final = 0.05
"""First retry waits up to this many seconds; doubles per attempt (full jitter)."""
BACKOFF_CAP: Final = 2.0
"""Longest single wait between attempts, in seconds (a Retry-After may ask for longer)."""
MIN_ATTEMPT: Final = 0.05
"""An attempt needs at least this many seconds left in the deadline to be worth starting."""
MAX_JWT: Final = 64 * 1024
"""Largest service-account token file read."""

T = TypeVar("T")
R = TypeVar("R")


class VaultSession:
    """A logged-in session over one `Transport`, with the retry, re-login and deadline rules."""

    def __init__(
        self,
        settings: VaultSettings,
        deadline: Deadline,
        pool_size: int = 10,
        redactor: Redactor | None = None,
        *,
        fail_fast: bool = False,
    ) -> None:
        self.settings = settings
        self.fail_fast = fail_fast
        """A preflight's session: a request that got no answer (refused, no such host, TLS cut,
        timed out) fails at once instead of being retried until the deadline."""
        self.deadline = deadline
        self.redactor = redactor if redactor is not None else Redactor()
        """Every secret of the run; whatever the server sent is quoted through it."""
        auth = settings.auth
        if isinstance(auth, TokenAuth):
            self.redactor.add(auth.token)
        elif isinstance(auth, AppRoleAuth):
            self.redactor.add(auth.secret_id)
            self.redactor.add(auth.role_id)
        self.transport = Transport(settings, self.redactor, pool_size)
        self._token: str | None = auth.token if isinstance(auth, TokenAuth) else None
        self._login_lock = threading.Lock()
        self._login_generation = 0
        self._random = secrets.SystemRandom()

    @property
    def token(self) -> str | None:
        """The token sent with requests (None before a login)."""
        return self._token

    @property
    def can_relogin(self) -> bool:
        """True when the auth method can mint a new token (kubernetes, approle)."""
        return not isinstance(self.settings.auth, TokenAuth)

    def close(self) -> None:
        """Close pooled connections."""
        self.transport.close()

    def login(self) -> None:
        """Authenticate when the method needs it; a static token costs no request here."""
        auth = self.settings.auth
        if isinstance(auth, TokenAuth):
            return
        if isinstance(auth, KubernetesAuth):
            jwt = auth.jwt or self._read_jwt(auth.jwt_path)
            self.redactor.add(jwt)
            path, payload = f"auth/{auth.mount}/login", {"role": auth.role, "jwt": jwt}
            what = f"kubernetes login (role {auth.role!r}, mount {auth.mount!r})"
        else:
            assert isinstance(auth, AppRoleAuth)
            path = f"auth/{auth.mount}/login"
            payload = {"role_id": auth.role_id, "secret_id": auth.secret_id}
            what = f"approle login (mount {auth.mount!r})"
        login = self.call(ep.LOGIN, path, what=what, body=payload, relogin=False)
        self.redactor.add(login.client_token)
        self._token = login.client_token
        self._login_generation += 1
        log.debug("logged in", extra=fields(auth_method=self.settings.auth_method))

    def _read_jwt(self, path: Path) -> str:
        try:
            jwt = read_regular_file(path, max_bytes=MAX_JWT).decode("utf-8", "replace").strip()
        except UnreadableFile as exc:
            raise VaultError(f"kubernetes login: the service-account token: {exc}") from None
        if not jwt:
            raise VaultError(f"kubernetes login: the service-account token file {path} is empty")
        self.redactor.add(jwt)
        return jwt

    def _relogin(self, seen_generation: int) -> None:
        with self._login_lock:
            if self._login_generation == seen_generation:
                log.info(
                    "token rejected, logging in again",
                    extra=fields(auth_method=self.settings.auth_method),
                )
                self.login()

    def call(
        self,
        endpoint: Endpoint[T, R],
        path: str,
        *,
        what: str,
        body: dict[str, Any] | None = None,
        relogin: bool = True,
    ) -> T | R:
        """Send one logical request; retry transient failures until the deadline.

        Returns the endpoint's success, or a refusal its `Endpoint.refusals` admit; raises
        `VaultError` (``what`` first, then the table's reason, no secret) for anything else.
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
            token = None if endpoint is ep.LOGIN else self._token
            retry_after: float | None = None
            limit = self.settings.client_timeout  # VAULT_CLIENT_TIMEOUT, never past the deadline
            try:
                reply = self.transport.send(
                    endpoint,
                    path,
                    token=token,
                    body=body,
                    timeout=min(remaining, limit or remaining),
                )
            except Failure as failure:
                if not failure.transient or self.fail_fast:
                    raise VaultError(f"{what}: {failure.reason}") from None
                last = failure.reason
            else:
                if reply.value is not None:
                    return reply.value
                refusal = reply.refusal()
                if refusal is not None and isinstance(refusal, endpoint.refusals):
                    return refusal
                if relogin and not relogged and self._token_may_be_stale(reply):
                    relogged = True
                    if self._token_rejected():
                        self._relogin(generation)
                        continue
                if reply.outcome is Outcome.DENIED:
                    raise VaultDenied(f"{what}: {self._explain(reply, relogin)}")
                if reply.outcome is not Outcome.TRANSIENT:
                    raise VaultError(f"{what}: {self._explain(reply, relogin)}")
                last, retry_after = reply.reason, reply.retry_after
            attempt += 1
            retries = self.settings.max_retries  # VAULT_MAX_RETRIES: fewer, inside the deadline
            if retries is not None and attempt > retries:
                done = f"gave up after {retries} retries (VAULT_MAX_RETRIES)"
                raise VaultError(f"{what}: {done}; last error: {last}")
            self._wait(what, attempt, last, retry_after)

    def _token_may_be_stale(self, reply: Reply[Any]) -> bool:
        """A denial that a new login could cure: the token (not the policy) may be the problem."""
        return (
            reply.outcome is Outcome.DENIED
            and self.can_relogin
            and bool(RELOGIN_ERRORS.search(" ".join(reply.errors)))
        )

    def _wait(self, what: str, attempt: int, last: str, retry_after: float | None) -> None:
        """Sleep before attempt ``attempt + 1`` (jittered backoff, or Retry-After when longer);
        `VaultError` when the wait would not leave time for another attempt in the deadline."""
        delay = self._random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))
        if retry_after is not None:
            delay = max(delay, retry_after)
        if delay > self.deadline.remaining() - MIN_ATTEMPT:
            if retry_after is not None and retry_after >= delay:
                last += f" (asked to retry after {retry_after:g}s)"
            raise self._gave_up(what, last)
        # The first retry of a request is worth a line: an init container waiting on a sealed
        # or restarting Vault should say so; later attempts of the same request stay quiet.
        log.log(
            logging.WARNING if attempt == 1 else logging.DEBUG,
            "Vault not ready, retrying until the deadline",
            extra=fields(what=what, attempt=attempt, error=last, wait_s=round(delay, 3)),
        )
        time.sleep(delay)

    @staticmethod
    def _explain(reply: Reply[Any], relogin: bool) -> str:
        if reply.outcome is Outcome.DENIED and reply.status == 403 and relogin:
            return reply.reason + " (the token's policy does not allow this)"
        return reply.reason

    def _token_rejected(self) -> bool:
        """True when Vault refuses the token itself, not just one path (403 on lookup-self)."""
        return self.token_lookup() is None

    def _gave_up(self, what: str, last: str) -> VaultError:
        return VaultError(
            f"{what}: gave up at the {self.deadline.seconds:g}s deadline; last error: {last}"
        )

    def token_lookup(self) -> TokenInfo | None:
        """What the token is (``auth/token/lookup-self``); None when Vault refuses the token."""
        info = self.call(ep.TOKEN_LOOKUP, LOOKUP_SELF, what="looking up the token", relogin=False)
        return None if isinstance(info, Denied) else info

    def capabilities(self, paths: Sequence[str]) -> dict[str, frozenset[str]]:
        """The token's capabilities on each of ``paths`` (``sys/capabilities-self``)."""
        what = f"checking the token's capabilities on {', '.join(paths)}"
        found = dict(
            self.call(
                ep.CAPABILITIES, CAPABILITIES_SELF, what=what, body={"paths": list(paths)}
            ).by_path
        )
        if len(paths) == 1 and paths[0] not in found and "capabilities" in found:
            found[paths[0]] = found["capabilities"]
        missing = [p for p in paths if p not in found]
        if missing:
            raise VaultError(f"{what}: Vault answered without capabilities for {missing[0]}")
        return {p: found[p] for p in paths}

    def _mount(self, mount: str, probe: str, what: str) -> Mount | NotFound | Denied:
        return self.call(ep.MOUNT, f"{UI_MOUNTS}/{mount}/{probe}", what=what)

    def mount(self, mount: str, probe: str) -> Mount | None:
        """The mount serving ``<mount>/<probe>`` (``sys/internal/ui/mounts``); None when refused.

        ``probe`` is a secret path under the mount that the token may use; Vault answers the UI
        endpoint to any token with a capability there, which works under least-privilege policies.
        """
        found = self._mount(mount, probe, f"looking up the mount {mount!r}")
        return found if isinstance(found, Mount) else None

    def kv_version(self, mount: str, probe: str) -> int:
        """The KV version of ``mount``: from sys/internal/ui/mounts, else sys/mounts."""
        what = f"detecting the KV version of mount {mount!r}"
        first = self._mount(mount, probe, what)
        if isinstance(first, Mount):
            return _version_of(first, mount, what)
        listing = self.call(ep.MOUNTS, SYS_MOUNTS, what=what)
        if not isinstance(listing, Denied):
            entry = listing.by_path.get(f"{mount}/")
            if entry is None:
                raise VaultError(f"{what}: there is no mount {mount!r} (VAULT_BACKEND_PATH)")
            return _version_of(entry, mount, what)
        reason = first.summary
        raise VaultError(
            f"{what}: the token may read neither {UI_MOUNTS}/{mount}/... ({reason}; grant a "
            f"capability on the key paths) nor {SYS_MOUNTS} (grant read on sys/mounts); or set "
            "VAULT_BACKEND=kv or kv-v2"
        )


def _version_of(entry: Mount, mount: str, what: str) -> int:
    if entry.type not in ("kv", "generic"):
        raise VaultError(f"{what}: mount {mount!r} is a {entry.type!r} secrets engine, expected kv")
    return entry.kv_version
