"""Admission warnings about Secrets that the caches say are missing or incomplete.

A missing Secret or key does not stop the mutation (the admin may create it next), but the pod
would fail at start; the warning says so at ``kubectl apply`` time, naming every key that is
missing: ``VAULT_ADDR``, the keys of the auth method (``VAULT_TOKEN``, the kubernetes role, the
AppRole ids), the token Secret's ``token`` and the TLS files. The caches hold key names, never
values, so for a px-vault style Secret the auth method is read from which keys it has. Answers
come from the watch-fed caches (`webhook.core.model.ClusterView`), never from the network; a
Secret the caches do not watch says nothing.
"""

from __future__ import annotations

from vsi_common import names
from webhook.core import constants as c
from webhook.core import tls
from webhook.core.model import ClusterView, SecretInfo
from webhook.core.profiles import Profile

APPROLE_KEYS = (names.VAULT_APPROLE_ROLE_ID, names.VAULT_APPROLE_SECRET_ID)
"""The two keys AppRole auth needs."""


def secret_warnings(
    profile: Profile,
    namespace: str,
    cluster: ClusterView | None,
    secret_namespace: str | None = None,
) -> list[str]:
    """Warnings for the profile's Secrets that are missing or lack a key they need, in
    ``namespace`` (the object's); the connection Secret in ``secret_namespace`` when it is
    elsewhere (Portworx reads its px-vault itself: `webhook.core.rules.px`), not at all when
    that is empty (nobody can tell where)."""
    if cluster is None or not namespace:
        return []
    conn = profile.connection
    out: list[str] = []
    where = namespace if secret_namespace is None else secret_namespace
    if conn.secret and where:
        out += _connection_secret(conn.secret, where, cluster)
    if conn.token_secret and conn.auth_method == "token":
        info = _known(cluster, namespace, conn.token_secret, out)
        if info is not None and c.TOKEN_SECRET_KEY not in info.keys:
            out.append(_no_key(conn.token_secret, namespace, c.TOKEN_SECRET_KEY))
    if conn.tls:
        out += _tls_files(conn.tls, namespace, cluster)
    return out


def _known(cluster: ClusterView, namespace: str, secret: str, out: list[str]) -> SecretInfo | None:
    """The Secret's key names when the cache knows them (a missing Secret is warned about)."""
    info = cluster.secret(namespace, secret)
    if info is None:
        out.append(
            f"Secret {secret} not found in namespace {namespace}; Vault connection will fail"
        )
    return info if isinstance(info, SecretInfo) else None


def _no_key(secret: str, namespace: str, key: str, why: str = "") -> str:
    suffix = f" ({why})" if why else ""
    return f"Secret {secret} in namespace {namespace} has no key {key}{suffix}"


def _connection_secret(secret: str, namespace: str, cluster: ClusterView) -> list[str]:
    """VAULT_ADDR and the keys of the auth method the px-vault style Secret's keys choose."""
    out: list[str] = []
    info = _known(cluster, namespace, secret, out)
    if info is None:
        return out
    keys = info.keys
    if names.VAULT_ADDR not in keys:
        out.append(_no_key(secret, namespace, names.VAULT_ADDR))
    if names.VAULT_AUTH_METHOD not in keys:
        # Portworx and the injector both default to token auth.
        if names.VAULT_TOKEN not in keys:
            why = f"token auth: no {names.VAULT_AUTH_METHOD}"
            out.append(_no_key(secret, namespace, names.VAULT_TOKEN, why))
        return out
    # The method's value is not in the cache: any method whose keys are all there will do.
    if {names.VAULT_TOKEN, names.VAULT_AUTH_KUBERNETES_ROLE} & keys:
        return out
    approle = [k for k in APPROLE_KEYS if k in keys]
    if len(approle) == 1:
        missing = next(k for k in APPROLE_KEYS if k not in keys)
        out.append(_no_key(secret, namespace, missing, "approle"))
    elif not approle:
        out.append(
            f"Secret {secret} in namespace {namespace} has no {names.VAULT_TOKEN}, "
            f"{names.VAULT_AUTH_KUBERNETES_ROLE} nor AppRole ids"
        )
    return out


def _tls_files(source: tls.TlsSource, namespace: str, cluster: ClusterView) -> list[str]:
    """Declared TLS files whose Secret or key is missing, and half a client pair."""
    out: list[str] = []
    held: dict[str, tls.TlsFile] = {}
    for secret, files in source.by_secret:
        info = _known(cluster, namespace, secret, out)
        if info is None:
            continue
        for tls_file in files:
            if tls_file.key in info.keys:
                held[tls_file.setting] = tls_file
            elif tls_file.setting in source.declared:
                out.append(_no_key(secret, namespace, tls_file.key, tls_file.setting))
    halves = [held[s] for s in tls.SETTINGS[1:] if s in held]
    if len(halves) == 1:
        other = next(f for f in source.files if f.setting in tls.PAIR - {halves[0].setting})
        if other.setting not in source.declared:  # otherwise warned about above
            out.append(
                f"Secret {halves[0].secret} in namespace {namespace} has {halves[0].key} but no "
                f"{other.key}; the client certificate is not used"
            )
    return out
