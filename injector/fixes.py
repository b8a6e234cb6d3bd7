"""What to change after a failure: the fix a user sees at the end of the injector's last line.

``kubectl describe pod`` shows an init container's last log line (FallbackToLogsOnError), so that
line must say what to do, not only what happened. Most failures carry their fix in their message
already (a deleted key, a KV v1 policy, a seed that does not unlock); `failure_fix` adds one for
those that do not: no answer from Vault, a denied login or request, a deadline spent on a Vault that
is not ready. `connection_fix` is also what ``--check`` says for the same failures. Pure: standard
library only.
"""

from __future__ import annotations

from typing import Final

from injector.errors import InjectorError, LuksError, VaultDenied, VaultError
from vsi_common import names

_DNS_ERRORS: Final = (
    "Name or service not known",
    "nodename nor servname",
    "Temporary failure in name resolution",
    "No address associated",
    "getaddrinfo failed",
)
"""How the resolver says a host name does not resolve (glibc, BSD, musl, Windows)."""


def connection_fix(error: str) -> str:
    """What to change when no answer came back from Vault: by refusal, name, TLS or silence.

    A preflight reports these at once (a run retries them until its deadline)."""
    addr = names.VAULT_ADDR
    if "refused" in error:
        return (
            f"nothing listens there: check the port of {addr} and that Vault is running "
            "(a run retries this until its deadline)"
        )
    if any(text in error for text in _DNS_ERRORS):
        return (
            f"the host of {addr} does not resolve from here: check its spelling (in a cluster, "
            "<service>.<namespace>.svc) and the DNS"
        )
    if "TLS" in error or "SSL" in error:
        return (
            f"check {names.VAULT_CACERT}, {names.VAULT_TLS_SERVER_NAME} and "
            f"{names.VAULT_CLIENT_CERT}/{names.VAULT_CLIENT_KEY} (the listener may require a "
            f"client certificate), and that {addr} is an https listener"
        )
    return (
        f"check {addr} and the network path to it (a firewall or NetworkPolicy may drop the "
        "connection); a run retries this until its deadline"
    )


def _denied_fix(auth_method: str) -> str:
    """What to change when Vault refused the login or a request (403, 401)."""
    if auth_method == "kubernetes":
        return (
            f"the Vault role ({names.VAULT_AUTH_KUBERNETES_ROLE}) must bind this pod's service "
            "account and namespace, and its policy grant read and create on the key paths"
        )
    if auth_method == "approle":
        return (
            f"check {names.VAULT_APPROLE_ROLE_ID} / {names.VAULT_APPROLE_SECRET_ID} (a limited "
            "secret_id may be spent) and that the role's policy grants read and create on the "
            "key paths"
        )
    return (
        f"{names.VAULT_TOKEN} must be a live token whose policy grants read and create on the key "
        "paths (renew it: the injector does not)"
    )


def failure_fix(exc: BaseException, auth_method: str) -> str:
    """The fix to add to the last line of a failed run; empty when the message carries one."""
    text = str(exc)
    if isinstance(exc, VaultDenied) or "permission denied" in text:
        return _denied_fix(auth_method)
    if isinstance(exc, VaultError):
        if "gave up" in text and "unreachable" not in text:
            return (
                f"check that Vault at {names.VAULT_ADDR} is up and unsealed; or raise --deadline / "
                f"{names.VSI_DEADLINE}"
            )
        if "unreachable" in text or "TLS" in text:
            return connection_fix(text)
    if isinstance(exc, LuksError) and "cryptsetup" in text and "does not unlock" not in text:
        return "install cryptsetup in the injector's image, or drop --verify-luks"
    if isinstance(exc, InjectorError) and "(" not in text and ";" not in text:
        return "run vsi-injector --check with the same settings: it names the fix"
    return ""
