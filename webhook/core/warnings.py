"""Admission warnings about connection Secrets that the caches say are missing or incomplete.

A missing Secret does not stop the mutation (the admin may create it next), but the pod would fail
at start; the warning says so at ``kubectl apply`` time. Answers come from the watch-fed caches
(`webhook.core.model.ClusterView`), never from the network; a Secret the caches do not watch says
nothing.
"""

from __future__ import annotations

from vsi_common import names
from webhook.core import constants as c
from webhook.core.model import ClusterView
from webhook.core.profiles import Profile


def secret_warnings(profile: Profile, namespace: str, cluster: ClusterView | None) -> list[str]:
    """Warnings for the profile's connection Secrets that are missing or lack their key."""
    if cluster is None or not namespace:
        return []
    conn = profile.connection
    checks: list[tuple[str | None, str | None]] = [
        (conn.secret, names.VAULT_ADDR),
        (conn.token_secret, c.TOKEN_SECRET_KEY),
        (conn.tls_secret, None),
    ]
    out: list[str] = []
    for secret, key in checks:
        if not secret:
            continue
        info = cluster.secret(namespace, secret)
        if info == "unknown":
            continue
        if info is None:
            out.append(
                f"Secret {secret} not found in namespace {namespace}; Vault connection will fail"
            )
        elif key is not None and key not in info.keys:
            out.append(f"Secret {secret} in namespace {namespace} has no key {key}")
    return out
