"""Pure builders of the Kubernetes fragments the webhook injects, as plain dicts.

Keeping the shapes (env entries, the injector init container, volumes, mounts, the restricted
security context) apart from the patch logic lets tests and docs look at exactly what a container
gets, and lets `webhook.core.mutation` precompute the parts that depend only on a profile.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from vsi_common import names, vault_values
from webhook.core import constants as c
from webhook.core import tls
from webhook.core.profiles import Connection, InjectorSettings, KeyVolume, Resources
from webhook.core.tls import Shape, TlsSource
from webhook.core.user import InjectorUser
from webhook.core.vault_readers import TYPE_READERS

Json = dict[str, Any]


def value_env(name: str, value: str) -> Json:
    """``{name, value}``."""
    return {"name": name, "value": value}


def secret_env(name: str, secret: str, key: str, *, optional: bool) -> Json:
    """``{name, valueFrom.secretKeyRef{name, key[, optional: true]}}``."""
    ref: Json = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def refers_to(entry: Json, secret: str | None) -> bool:
    """Whether the env entry ``entry`` takes its value from the Secret ``secret``."""
    ref = entry.get("valueFrom", {}).get("secretKeyRef", {})
    return secret is not None and isinstance(ref, dict) and ref.get("name") == secret


def field_env(name: str, field_path: str) -> Json:
    """``{name, valueFrom.fieldRef{fieldPath}}`` (the downward API)."""
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": field_path}}}


def tls_env(shape: Shape) -> list[Json]:
    """VAULT_CACERT / VAULT_CLIENT_CERT / VAULT_CLIENT_KEY for the files of ``shape``, as paths."""
    return [
        value_env(setting, f"{c.TLS_MOUNT_PATH}/{file}")
        for setting, file in names.TLS_FILES
        if setting in shape
    ]


def connection_env(
    connection: Connection,
    shape: Shape = tls.NO_TLS,
    reader: str = vault_values.INJECTOR,
    clients: Collection[str] | None = None,
) -> list[Json]:
    """The VAULT_* env entries of a connection for one Vault client (``reader``, a
    `vsi_common.vault_values` reader), in `vsi_common.names.ALL_SETTINGS` order: the settings
    that client reads, and that a profile whose clients are ``clients`` (default the reader
    alone) may give it (`vsi_common.vault_values.allowed_for`: a proxy only where every client
    follows it).

    A px-vault style Secret gives one ``secretKeyRef`` per name, optional for all but VAULT_ADDR
    (so a key the Secret lacks stays unset while a missing Secret fails visibly). When the profile
    has TLS material, `webhook.core.tls.OWNED_SETTINGS` never come from the connection: the three
    file settings are the paths of the files of ``shape`` (for a container that reads paths; the
    injector gets no shape and finds the files itself in `vsi_common.names.VSI_TLS_DIR`).
    """
    paths = {e["name"]: e for e in tls_env(shape)}
    own_tls = connection.tls is not None
    values = dict(connection.values)
    out: list[Json] = []
    served = frozenset({reader}) if clients is None else frozenset(clients)
    for name in names.ALL_SETTINGS:
        if reader not in vault_values.RULES[name].readers or not vault_values.allowed_for(
            name, served
        ):
            continue
        if own_tls and name in tls.OWNED_SETTINGS:
            if name in paths:
                out.append(paths[name])
        elif connection.secret is not None:
            optional = name != names.VAULT_ADDR
            out.append(secret_env(name, connection.secret, name, optional=optional))
        elif name == names.VAULT_TOKEN and connection.token_secret:
            out.append(
                secret_env(name, connection.token_secret, c.TOKEN_SECRET_KEY, optional=False)
            )
        elif name in values:
            out.append(value_env(name, values[name]))
    return out


def rook_env(connection: Connection, shape: Shape = tls.NO_TLS) -> list[Json]:
    """The VAULT_* env for Rook's own containers (rook-kms): `connection_env` without what Rook
    takes from the CephCluster (`constants.ROOK_OWN_SETTINGS`: address, auth method, credentials)
    and without TLS settings that are not paths into our TLS mount. Rook reads a ``VAULT_CACERT``
    without ``/etc/vault`` in it as the name of a Secret, so a node path from a px-vault Secret
    (or VAULT_CAPATH, which Rook refuses) must never reach it."""
    mount_prefix = c.TLS_MOUNT_PATH + "/"
    return [
        entry
        for entry in connection_env(
            connection, shape, vault_values.ROOK, TYPE_READERS[c.TYPE_ROOK_KMS]
        )
        if entry["name"] not in c.ROOK_OWN_SETTINGS
        and (
            entry["name"] not in tls.OWNED_SETTINGS
            or str(entry.get("value", "")).startswith(mount_prefix)
        )
    ]


def mount(name: str, path: str, *, read_only: bool) -> Json:
    """A volumeMount."""
    out: Json = {"name": name, "mountPath": path}
    if read_only:
        out["readOnly"] = True
    return out


def tls_projection(source: TlsSource, shape: Shape) -> Json:
    """The ``projected`` source of the files of ``shape``: one Secret source per Secret, with the
    exact items, never optional (a Secret or key that is missing holds the pod back, visibly)."""
    sources: dict[str, list[Json]] = {}
    for tls_file in source.files:
        if tls_file.setting in shape:
            item = {"key": tls_file.key, "path": tls_file.path}
            sources.setdefault(tls_file.secret, []).append(item)
    return {
        "defaultMode": c.TLS_FILE_MODE,
        "sources": [{"secret": {"name": n, "items": items}} for n, items in sources.items()],
    }


def tls_volume(source: TlsSource, shape: Shape) -> Json:
    """The pod volume of the TLS files (mode 0444: a non-root reader; mounted by readers only)."""
    return {"name": c.TLS_VOLUME_NAME, "projected": tls_projection(source, shape)}


def operator_tls_volume(source: TlsSource, shape: Shape) -> Json:
    """The StorageCluster ``spec.volumes`` entry (the operator's shape carries its mount)."""
    return {
        "name": c.TLS_VOLUME_NAME,
        "mountPath": c.TLS_MOUNT_PATH,
        "readOnly": True,
        "projected": tls_projection(source, shape),
    }


def tls_mount() -> Json:
    """Read-only mount of the TLS Secret volume at `constants.TLS_MOUNT_PATH`."""
    return mount(c.TLS_VOLUME_NAME, c.TLS_MOUNT_PATH, read_only=True)


def vault_token_volume(audience: str) -> Json:
    """The injector's own projected service-account token for Vault: ``audience``, one hour,
    in `constants.VAULT_TOKEN_FILE` (the kubelet writes it mode 0600 for the container's user)."""
    token = {
        "audience": audience,
        "expirationSeconds": c.VAULT_TOKEN_EXPIRATION_SECONDS,
        "path": c.VAULT_TOKEN_FILE,
    }
    return {
        "name": c.VAULT_TOKEN_VOLUME_NAME,
        "projected": {"sources": [{"serviceAccountToken": token}]},
    }


def vault_token_mount() -> Json:
    """Read-only mount of the Vault token volume at `constants.VAULT_TOKEN_MOUNT_PATH`."""
    return mount(c.VAULT_TOKEN_VOLUME_NAME, c.VAULT_TOKEN_MOUNT_PATH, read_only=True)


def vault_token_path_env() -> Json:
    """VAULT_AUTH_KUBERNETES_TOKEN_PATH pointing at the Vault token."""
    return value_env(
        names.VAULT_AUTH_KUBERNETES_TOKEN_PATH, f"{c.VAULT_TOKEN_MOUNT_PATH}/{c.VAULT_TOKEN_FILE}"
    )


def memory_volume(name: str, key_volume: KeyVolume) -> Json:
    """An ``emptyDir {medium: Memory, sizeLimit}`` volume: keys never touch a disk."""
    return {"name": name, "emptyDir": {"medium": "Memory", "sizeLimit": key_volume.size_limit}}


def cryptsetup_lock_volume() -> Json:
    """The in-memory volume of cryptsetup's device locks (`constants.CRYPTSETUP_LOCK_DIR`)."""
    return {
        "name": c.CRYPTSETUP_LOCK_VOLUME,
        "emptyDir": {"medium": "Memory", "sizeLimit": c.CRYPTSETUP_LOCK_SIZE_LIMIT},
    }


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
    tls_dir: str | None = None,
    verify_luks: str | None = None,
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
    if tls_dir is not None:
        env.append(value_env(names.VSI_TLS_DIR, tls_dir))
    if verify_luks is not None:
        env.append(value_env(names.VSI_VERIFY_LUKS, verify_luks))
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
