"""Pieces the rules share: env and TLS operations, conflict checks, lists that must stay lists.

Every helper keeps the two rules of the whole core: what is already present (by name) is left
alone, so a second pass plans nothing; and a volume, mount or list of ours that holds something
else is never overwritten, but reported (a ``conflict`` warning, or `MalformedError`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from webhook.core import builders as b
from webhook.core import constants as c
from webhook.core import patch
from webhook.core.compiled import CompiledProfile, Json
from webhook.core.model import PatchOp
from webhook.core.rules.base import UNCHANGED, MalformedError, Plan
from webhook.core.shapes import as_list, as_map, find, is_map, mounts

MEMORY: Final[Mapping[str, Any]] = {"medium": "Memory"}
"""The ``emptyDir`` source of an in-memory volume: keys never touch a disk."""


def conflict(warning: str) -> Plan:
    """A ``conflict`` skip with its warning."""
    return Plan([], [warning], c.SKIP_CONFLICT)


def malformed(warning: str) -> Plan:
    """A ``malformed`` skip with its warning."""
    return Plan([], [warning], c.SKIP_MALFORMED)


def foreign_volume(name: str, expected: str) -> str:
    """The warning for a volume of ours that holds something else."""
    return f"volume {name} exists but is not {expected}; {UNCHANGED}"


def is_volume(
    volume: Any, source: str, expected: Mapping[str, Any], extra: Sequence[str] = ()
) -> bool:
    """Whether ``volume`` has exactly one source, ``source``, whose fields include ``expected``.

    ``extra`` names non-source fields besides ``name`` (a StorageCluster volume's mountPath...).
    """
    volume = as_map(volume)
    details = volume.get(source)
    if not is_map(details) or any(details.get(k) != v for k, v in expected.items()):
        return False
    return all(key in ("name", source, *extra) for key in volume)


def require_list(parent: Mapping[str, Any], field: str, base: str) -> None:
    """Raise `MalformedError` when ``parent[field]`` is set but is not a list."""
    value = parent.get(field)
    if value is not None and not isinstance(value, list):
        raise MalformedError(patch.join(base, field))


def append(parent: Mapping[str, Any], field: str, base: str, items: Iterable[Any]) -> list[PatchOp]:
    """`patch.append_items`, refusing to replace a non-list ``parent[field]`` (raises)."""
    require_list(parent, field, base)
    return patch.append_items(parent, field, base, items)


def insert(parent: Mapping[str, Any], field: str, base: str, index: int, item: Any) -> PatchOp:
    """`patch.insert_item`, refusing to replace a non-list ``parent[field]`` (raises)."""
    require_list(parent, field, base)
    return patch.insert_item(parent, field, base, index, item)


def env_ops(compiled: CompiledProfile, parent: Mapping[str, Any], base: str) -> list[PatchOp]:
    """Append the profile's env entries the parent lacks (entries set by hand are left alone)."""
    current = parent.get("env")
    present = {
        name for e in as_list(current) if is_map(e) and isinstance(name := e.get("name"), str)
    }
    if compiled.env_names <= present:
        return []
    if type(current) is list and present.isdisjoint(compiled.env_names):
        return list(compiled.env_appends(base))  # the usual case: none of ours there yet
    return append(parent, "env", base, [e for e in compiled.env if e["name"] not in present])


def tls_ops(
    compiled: CompiledProfile,
    spec: Mapping[str, Any],
    base: str,
    containers: Sequence[tuple[Mapping[str, Any], str]],
) -> list[PatchOp]:
    """The TLS Secret volume (when the profile has one and the pod lacks it) and its mounts.

    Callers have checked `tls_volume_conflict` and `path_conflict` first.
    """
    if compiled.tls_volume is None or compiled.tls_mount is None:
        return []
    ops: list[PatchOp] = []
    for container, cbase in containers:
        if not mounts(container, c.TLS_VOLUME_NAME):
            ops += append(container, "volumeMounts", cbase, [compiled.tls_mount])
    if find(spec.get("volumes"), c.TLS_VOLUME_NAME) is None:
        ops += append(spec, "volumes", base, [compiled.tls_volume])
    return ops


def tls_volume_conflict(compiled: CompiledProfile, spec: Mapping[str, Any]) -> str | None:
    """A warning when the pod has a ``vsi-vault-tls`` volume that is not the profile's Secret."""
    if compiled.tls_volume is None:
        return None
    index = find(spec.get("volumes"), c.TLS_VOLUME_NAME)
    secret = compiled.profile.connection.tls_secret
    if index is None or is_volume(spec["volumes"][index], "secret", {"secretName": secret}):
        return None
    return foreign_volume(c.TLS_VOLUME_NAME, f"Secret {secret}")


def mounted_at(mount_list: Any, volume: str, path: str) -> str | None:
    """The name of a volume other than ``volume`` that ``mount_list`` places at ``path``."""
    wanted = posixpath.normpath(path)
    for mount in as_list(mount_list):
        mount_path, name = as_map(mount).get("mountPath"), as_map(mount).get("name")
        if (
            name != volume
            and isinstance(mount_path, str)
            and posixpath.normpath(mount_path) == wanted
        ):
            return str(name)[:40]
    return None


def path_conflict(containers: Iterable[Any], volume: str, path: str) -> str | None:
    """A warning when a container mounts another volume at ``path`` (the apiserver rejects two
    mounts at one path in a container, so ours would make the whole pod fail)."""
    for container in containers:
        other = mounted_at(as_map(container).get("volumeMounts"), volume, path)
        if other is not None:
            name = str(as_map(container).get("name"))[:40]
            return f"container {name} already mounts {other} at {path}; {UNCHANGED}"
    return None


def has_injector(spec: Mapping[str, Any]) -> bool:
    """Whether the pod already runs our init container (its presence means handled)."""
    return (
        find(spec.get("initContainers"), c.INJECTOR_CONTAINER_NAME) is not None
        or find(spec.get("containers"), c.INJECTOR_CONTAINER_NAME) is not None
    )


def service_account_mount(spec: Mapping[str, Any]) -> list[Json]:
    """The pod's service-account token mount, copied read-only for the injector (kubernetes auth).

    The ServiceAccount admission plugin mounts the token into the containers it sees, and it runs
    before the webhooks: a container added here gets nothing unless we copy the mount.
    """
    for field in ("containers", "initContainers"):
        for container in as_list(spec.get(field)):
            for mount in as_list(as_map(container).get("volumeMounts")):
                if (
                    is_map(mount)
                    and mount.get("mountPath") == c.SERVICE_ACCOUNT_MOUNT_PATH
                    and isinstance(mount.get("name"), str)
                ):
                    return [b.mount(mount["name"], c.SERVICE_ACCOUNT_MOUNT_PATH, read_only=True)]
    return []
