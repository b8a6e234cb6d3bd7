"""What a Vault client's container would start with, as the kubelet would set it up.

For the only parts a check needs: the VAULT_* and VSI_* variables (values, ``secretKeyRef`` and
``fieldRef``; an optional key that is missing stays unset, a required one would keep the pod from
starting) and the files those variables name, taken from the container's Secret and projected
volumes. Files from anywhere else (a node's ``hostPath``, the image) cannot be read from here: the
check is then not made, and says so. Pure: the caller writes the files and runs the check.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from vsi_common import names
from vsi_common.report import FAIL, WARN, Status
from webhook.core import constants as c
from webhook.core.shapes import as_list, as_map
from webhook.doctor.consumers import Consumer, secret_refs, secret_sources
from webhook.doctor.state import SecretData

DEFAULT_TOKEN_PATH: Final = c.SERVICE_ACCOUNT_MOUNT_PATH + "/token"
"""Where a pod's service-account token is (VAULT_AUTH_KUBERNETES_TOKEN_PATH's default)."""
WANTED: Final = frozenset(
    {
        *names.VAULT_SETTINGS,
        names.VSI_LAYOUT,
        names.VSI_VOLUMES,
        names.VSI_NAMESPACE,
        names.VSI_SEED_FILE,
        names.VSI_DEADLINE,
        names.VSI_KEY_PATH_TEMPLATE,
        names.VSI_FILE_OWNER,
        names.VSI_FILE_GROUP_READABLE,
        names.VSI_KV1_ALLOW_OVERWRITE_POLICY,
        names.VSI_TLS_DIR,
    }
)
"""The variables a check is made with. Left out on purpose: VSI_OUTPUT_DIR and VSI_VERIFY_LUKS
(the in-memory volume and the device exist only on the node), VSI_LOG_FORMAT (nothing is logged)."""
PATH_SETTINGS: Final = (
    names.VAULT_CACERT,
    names.VAULT_CAPATH,
    names.VAULT_CLIENT_CERT,
    names.VAULT_CLIENT_KEY,
    names.VSI_TLS_DIR,
    names.VSI_SEED_FILE,
)
"""The variables whose value is a file or directory in the container."""
CREDENTIALS: Final = (names.VAULT_TOKEN, names.VAULT_APPROLE_ROLE_ID, names.VAULT_APPROLE_SECRET_ID)
"""Variables whose value is a secret (kept out of every report)."""
PEM_CERTIFICATE: Final = b"-----BEGIN CERTIFICATE-----"
"""How a file of public certificates starts (every other file is treated as a secret)."""


@dataclass(frozen=True)
class Resolved:
    """A consumer's settings as its container would start with them."""

    env: Mapping[str, str] = field(repr=False)
    """VAULT_* and VSI_* values; paths point into `files` (relative to a directory the caller
    makes). Holds credentials."""
    files: Mapping[str, bytes] = field(repr=False)
    """Relative path -> content of every file of the Secret volumes `env` names. Secret."""
    secrets: tuple[str | bytes, ...] = field(repr=False)
    """Every secret value among them, for the redactor."""
    mounts: Mapping[str, str]
    """Directory of `files` -> the container path it stands for (to say the container's paths in
    the report, not the doctor's temporary ones)."""
    audiences: tuple[str, ...]
    """The audiences of the projected service-account token the container logs in with (empty:
    the API server's default, as for the token the kubelet mounts by default)."""
    sources: tuple[str, ...]
    """The Secrets the settings came from, for the report."""
    unread_seed: tuple[str, ...] = ()
    """The Secrets of the seed (Rook's key, ``VSI_SEED_FILE``) the doctor may not read: the
    settings leave the seed out, so only the connection can be checked."""


@dataclass(frozen=True)
class Unresolved:
    """Why a consumer's settings cannot be put together here."""

    status: Status
    """``fail`` when the container would not start either, ``warn`` when only the doctor cannot
    see the file."""
    detail: str
    """What is missing."""
    fix: str
    """What to change."""


Secrets = Mapping[str, SecretData | None]
"""The consumer's namespace's Secrets by name (None: it does not exist)."""


class _Stop(Exception):
    def __init__(self, problem: Unresolved) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def _wont_start(detail: str, fix: str) -> _Stop:
    return _Stop(Unresolved(FAIL, f"{detail}: the container would not start", fix))


def _secret_value(
    secrets: Secrets, secret: str, key: str, optional: bool, variable: str
) -> bytes | None:
    found = secrets.get(secret)
    if found is None:
        if optional:
            return None
        raise _wont_start(
            f"{variable} comes from Secret {secret}, which is not there",
            f"create the Secret {secret}",
        )
    if key not in found.data:
        if optional:
            return None
        raise _wont_start(
            f"{variable} comes from key {key} of Secret {secret}, which it lacks",
            f"add the key {key} to the Secret {secret}",
        )
    return found.data[key]


def _variables(consumer: Consumer, secrets: Secrets) -> dict[str, str]:
    """The VAULT_* and VSI_* values: ``envFrom`` first, then ``env`` (the kubelet's order)."""
    env: dict[str, str] = {}
    for origin in consumer.env_from:
        ref = as_map(origin.get("secretRef"))
        name, prefix = str(ref.get("name") or ""), str(origin.get("prefix") or "")
        found = secrets.get(name)
        if found is None:
            if ref.get("optional") is True:
                continue
            raise _wont_start(
                f"envFrom names Secret {name}, which is not there", f"create the Secret {name}"
            )
        for key, raw in found.data.items():
            if prefix + key in WANTED:
                env[prefix + key] = raw.decode("utf-8", "replace")
    for entry in consumer.env:
        name = str(entry.get("name") or "")
        if name not in WANTED:
            continue
        if "value" in entry or "valueFrom" not in entry:
            env[name] = str(entry.get("value") or "")
            continue
        source = as_map(entry.get("valueFrom"))
        ref = as_map(source.get("secretKeyRef"))
        if ref:
            value = _secret_value(
                secrets,
                str(ref.get("name")),
                str(ref.get("key")),
                ref.get("optional") is True,
                name,
            )
            if value is not None:
                env[name] = value.decode("utf-8", "replace")
            continue
        path = as_map(source.get("fieldRef")).get("fieldPath")
        if path == "metadata.namespace":
            env[name] = consumer.workload.namespace
        elif path == "spec.serviceAccountName":
            env[name] = consumer.service_account
        else:
            raise _Stop(
                Unresolved(
                    WARN,
                    f"{name} comes from {next(iter(source), 'a source')} the doctor does not read",
                    f"set {name} as a value or a secretKeyRef",
                )
            )
    return env


def _mount_of(consumer: Consumer, path: str) -> tuple[int, Mapping[str, Any], str] | None:
    """(index, mount, path below it) of the deepest mount that holds ``path``."""
    best: tuple[int, Mapping[str, Any], str] | None = None
    for index, mount in enumerate(consumer.mounts):
        root = str(mount.get("mountPath") or "").rstrip("/")
        inside = root and (path == root or path.startswith(root + "/"))
        if inside and (best is None or len(root) > len(str(best[1].get("mountPath")).rstrip("/"))):
            best = (index, mount, path[len(root) :].lstrip("/"))
    return best


def _volume_files(volume: Mapping[str, Any], secrets: Secrets) -> dict[str, bytes]:
    """The files a Secret or projected volume shows (its Secret sources only)."""
    files: dict[str, bytes] = {}
    for source in secret_sources(volume):
        secret = str(source.get("secretName") or source.get("name") or "")
        optional = source.get("optional") is True
        found = secrets.get(secret)
        if found is None:
            if optional:
                continue
            raise _wont_start(
                f"volume {volume.get('name')} mounts Secret {secret}, which is not there",
                f"create the Secret {secret}",
            )
        items = [as_map(i) for i in as_list(source.get("items"))]
        if not items:
            files.update(found.data)
            continue
        for item in items:
            key, path = str(item.get("key")), str(item.get("path"))
            if key not in found.data:
                if optional:
                    continue
                raise _wont_start(
                    f"volume {volume.get('name')} needs key {key} of Secret "
                    f"{secret}, which it lacks",
                    f"add the key {key} to {secret}",
                )
            files[posixpath.normpath(path)] = found.data[key]
    return files


def _files(
    consumer: Consumer, env: dict[str, str], secrets: Secrets, mounts: dict[str, str]
) -> dict[str, bytes]:
    """Materialise the volumes the path settings name; rewrite those settings to match."""
    volumes = {str(v.get("name")): v for v in consumer.volumes}
    files: dict[str, bytes] = {}
    for setting in PATH_SETTINGS:
        value = env.get(setting)
        if not value:
            continue
        found = _mount_of(consumer, value)
        volume = volumes.get(str(found[1].get("name"))) if found else None
        if found is None or volume is None or not secret_sources(volume):
            where = "a file of the image" if found is None else "on a volume that is no Secret"
            raise _Stop(
                Unresolved(
                    WARN,
                    f"{setting}={value} is {where} (on the node): the doctor cannot read it, "
                    "so this connection is not checked",
                    "give the profile a tlsSecret so the file comes from a Secret, or check "
                    "it on the node with vsi-injector --check",
                )
            )
        index, mount, below = found
        directory = f"m{index}"
        mounts[directory] = str(mount.get("mountPath")).rstrip("/")
        for path, content in _volume_files(volume, secrets).items():
            files[posixpath.join(directory, path)] = content
        env[setting] = posixpath.join(directory, below) if below else directory
    return files


def _audiences(consumer: Consumer, env: Mapping[str, str]) -> tuple[str, ...]:
    """The audience of the projected token at VAULT_AUTH_KUBERNETES_TOKEN_PATH, if it has one."""
    path = env.get(names.VAULT_AUTH_KUBERNETES_TOKEN_PATH) or DEFAULT_TOKEN_PATH
    found = _mount_of(consumer, path)
    if found is None:
        return ()
    volumes = {str(v.get("name")): v for v in consumer.volumes}
    projected = as_map(as_map(volumes.get(str(found[1].get("name")))).get("projected"))
    for source in as_list(projected.get("sources")):
        token = as_map(as_map(source).get("serviceAccountToken"))
        if token and posixpath.normpath(str(token.get("path"))) == found[2]:
            audience = token.get("audience")
            return (str(audience),) if audience else ()
    return ()


def seed_secrets(consumer: Consumer) -> frozenset[str]:
    """The Secrets of the volume ``VSI_SEED_FILE`` (a plain value the webhook sets) points into:
    Rook's key Secret of the OSD, the seed a first run stores in Vault."""
    value = next(
        (
            e.get("value")
            for e in consumer.env
            if e.get("name") == names.VSI_SEED_FILE and isinstance(e.get("value"), str)
        ),
        None,
    )
    found = _mount_of(consumer, str(value)) if value else None
    if found is None:
        return frozenset()
    volumes = {str(v.get("name")): v for v in consumer.volumes}
    volume = volumes.get(str(found[1].get("name")), {})
    sources = secret_sources(volume)
    return frozenset(str(s.get("secretName") or s.get("name") or "") for s in sources)


def resolve(
    consumer: Consumer, secrets: Secrets, unread: frozenset[str] = frozenset()
) -> Resolved | Unresolved:
    """The consumer's settings and files, or why they cannot be put together here. ``unread``
    are Secrets the doctor may not read: the seed's alone leave the seed out of the settings."""
    mounts: dict[str, str] = {}
    seed = sorted(unread & seed_secrets(consumer))
    try:
        env = _variables(consumer, secrets)
        if seed:
            env.pop(names.VSI_SEED_FILE, None)
        files = _files(consumer, env, secrets, mounts)
    except _Stop as stop:
        return stop.problem
    credentials = [env[n] for n in CREDENTIALS if env.get(n)]
    private = [content for content in files.values() if not _public(content)]
    return Resolved(
        env=env,
        files=files,
        secrets=(*credentials, *private),
        mounts=mounts,
        audiences=_audiences(consumer, env),
        sources=tuple(sorted(secret_refs(consumer) & set(secrets))),
        unread_seed=tuple(seed),
    )


def _public(content: bytes) -> bool:
    """Whether a file holds certificates only (a CA bundle, a client certificate)."""
    return content.lstrip().startswith(PEM_CERTIFICATE) and b"PRIVATE KEY" not in content


def dedupe_key(consumer: Consumer, resolved: Resolved) -> tuple[Any, ...]:
    """Consumers that would connect identically (a DaemonSet and its pods): checked once."""
    return (
        consumer.workload.namespace,
        consumer.service_account,
        consumer.mode,
        tuple(sorted(resolved.env.items())),
        tuple(sorted(resolved.files.items())),
        resolved.audiences,
    )
