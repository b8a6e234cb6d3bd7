"""Pure builders of the Kubernetes fragments the webhook injects, as plain dicts.

Keeping the shapes (env entries, the injector init container, volumes, mounts, the restricted
security context) apart from the patch logic lets tests and docs look at exactly what a container
gets, and lets `webhook.core.mutation` precompute the parts that depend only on a profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vsi_common import names
from webhook.core import constants as c
from webhook.core.profiles import Connection, InjectorSettings, KeyVolume, Resources
from webhook.core.user import InjectorUser

Json = dict[str, Any]

TLS_PATHS = (
    (names.VAULT_CACERT, c.TLS_CA_FILE),
    (names.VAULT_CLIENT_CERT, c.TLS_CERT_FILE),
    (names.VAULT_CLIENT_KEY, c.TLS_KEY_FILE),
)
"""VAULT_* names a TLS Secret sets, and the Secret key each one points at."""


def value_env(name: str, value: str) -> Json:
    """``{name, value}``."""
    return {"name": name, "value": value}


def secret_env(name: str, secret: str, key: str, *, optional: bool) -> Json:
    """``{name, valueFrom.secretKeyRef{name, key[, optional: true]}}``."""
    ref: Json = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def field_env(name: str, field_path: str) -> Json:
    """``{name, valueFrom.fieldRef{fieldPath}}`` (the downward API)."""
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": field_path}}}


def tls_env() -> list[Json]:
    """VAULT_CACERT / VAULT_CLIENT_CERT / VAULT_CLIENT_KEY pointing into the mounted TLS Secret."""
    return [value_env(name, f"{c.TLS_MOUNT_PATH}/{file}") for name, file in TLS_PATHS]


def connection_env(connection: Connection) -> list[Json]:
    """The VAULT_* env entries of a connection, in `vsi_common.names.VAULT_SETTINGS` order.

    A px-vault style Secret gives one ``secretKeyRef`` per name, optional for all but VAULT_ADDR
    (so a key the Secret lacks stays unset while a missing Secret fails visibly); with a TLS Secret
    the three file settings point at its mount instead.
    """
    tls = {e["name"]: e for e in tls_env()} if connection.tls_secret else {}
    out: list[Json] = []
    if connection.secret is not None:
        for name in names.VAULT_SETTINGS:
            if name in tls:
                out.append(tls[name])
            else:
                optional = name != names.VAULT_ADDR
                out.append(secret_env(name, connection.secret, name, optional=optional))
        return out
    values = dict(connection.values)
    for name in names.VAULT_SETTINGS:
        if name in tls:
            out.append(tls[name])
        elif name == names.VAULT_TOKEN and connection.token_secret:
            out.append(
                secret_env(name, connection.token_secret, c.TOKEN_SECRET_KEY, optional=False)
            )
        elif name in values:
            out.append(value_env(name, values[name]))
    return out


def mount(name: str, path: str, *, read_only: bool) -> Json:
    """A volumeMount."""
    out: Json = {"name": name, "mountPath": path}
    if read_only:
        out["readOnly"] = True
    return out


def tls_volume(secret: str) -> Json:
    """The TLS Secret volume; mode 0444 so a non-root injector can read it (mounters only)."""
    return {"name": c.TLS_VOLUME_NAME, "secret": {"secretName": secret, "defaultMode": 0o444}}


def tls_mount() -> Json:
    """Read-only mount of the TLS Secret volume at `constants.TLS_MOUNT_PATH`."""
    return mount(c.TLS_VOLUME_NAME, c.TLS_MOUNT_PATH, read_only=True)


def memory_volume(name: str, key_volume: KeyVolume) -> Json:
    """An ``emptyDir {medium: Memory, sizeLimit}`` volume: keys never touch a disk."""
    return {"name": name, "emptyDir": {"medium": "Memory", "sizeLimit": key_volume.size_limit}}


def resources(res: Resources) -> Json:
    """``{requests, limits}`` of the injected container."""
    out: Json = {}
    if res.limits:
        out["limits"] = dict(res.limits)
    if res.requests:
        out["requests"] = dict(res.requests)
    return out


def restricted_security_context(uid: int, gid: int | None = None) -> Json:
    """The Pod Security "restricted" container context, running as the non-zero ``uid``."""
    ctx: Json = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if gid is not None:
        ctx["runAsGroup"] = gid
    return ctx


def injector_env(
    *,
    layout: str,
    volumes: Sequence[str],
    output_dir: str,
    user: InjectorUser,
    seed_file: str | None = None,
) -> list[Json]:
    """The ``VSI_*`` settings of the injector (see `vsi_common.names`), in a stable order."""
    env = [
        value_env(names.VSI_LAYOUT, layout),
        value_env(names.VSI_VOLUMES, ",".join(volumes)),
        value_env(names.VSI_OUTPUT_DIR, output_dir),
        field_env(names.VSI_NAMESPACE, "metadata.namespace"),
    ]
    if seed_file is not None:
        env.append(value_env(names.VSI_SEED_FILE, seed_file))
    env.append(value_env(names.VSI_FILE_OWNER, user.owner))
    if user.group_readable:
        env.append(value_env(names.VSI_FILE_GROUP_READABLE, "true"))
    return env


def injector_container(
    settings: InjectorSettings, *, env: Iterable[Json], mounts: Iterable[Json], user: InjectorUser
) -> Json:
    """The key-injector init container: ``vsi-injector`` configured by env only, restricted."""
    return {
        "name": c.INJECTOR_CONTAINER_NAME,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": list(c.INJECTOR_COMMAND),
        "env": list(env),
        "resources": resources(settings.resources),
        "securityContext": restricted_security_context(user.uid, user.gid),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": list(mounts),
    }
