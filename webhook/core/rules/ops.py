"""Pieces the rules share: env and TLS operations, conflict checks, lists that must stay lists.

Every helper keeps the two rules of the whole core: what is already present (by name) is left
alone, so a second pass plans nothing; and a volume, mount or list of ours that holds something
else is never overwritten, but reported (a ``conflict`` warning, or `MalformedError`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from webhook.core import constants as c
from webhook.core import patch, tls
from webhook.core.compiled import Fragments, Json
from webhook.core.model import PatchOp
from webhook.core.rules.base import UNCHANGED, MalformedError, Plan
from webhook.core.shapes import as_list, as_map, find, is_map, mounts, name_in

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


def env_ops(
    frags: Fragments,
    parent: Mapping[str, Any],
    base: str,
    wanted: Sequence[Json] | None = None,
) -> list[PatchOp]:
    """Append the profile's env entries (``wanted``, default `Fragments.env`) the parent lacks
    (entries set by hand, or by Rook, are left alone), and bring our own TLS path entries in line
    with the shape of the TLS files (a DaemonSet updated after its TLS Secret gained or lost the
    client pair)."""
    current = parent.get("env")
    entries = as_list(current)
    present = {
        name: index
        for index, e in enumerate(entries)
        if is_map(e) and isinstance(name := e.get("name"), str)
    }
    if wanted is None:
        if type(current) is list and not (present.keys() & frags.reconciled):
            return list(frags.env_appends(base))  # the usual case: none of ours there yet
        wanted = frags.env
    planned = _tls_env_fixes(frags, entries, present, base)
    missing = [e for e in wanted if e["name"] not in present]
    return planned + append(parent, "env", base, missing)


def _tls_env_fixes(
    frags: Fragments, entries: Sequence[Any], present: Mapping[str, int], base: str
) -> list[PatchOp]:
    """Replace or remove TLS path entries of ours that the current shape does not give."""
    if frags.profile.connection.tls is None:
        return []
    wanted = {e["name"]: e for e in frags.env if e["name"] in tls.FILE_NAMES}
    replaced: list[PatchOp] = []
    removed: list[int] = []
    for name in tls.SETTINGS:
        index = present.get(name)
        if index is None or not _our_tls_entry(entries[index]):
            continue
        if name not in wanted:
            removed.append(index)
        elif entries[index] != wanted[name]:
            replaced.append(patch.replace(patch.join(base, "env", index), wanted[name]))
    # Removals last and from the highest index: earlier ones would shift the later indexes.
    return replaced + [patch.remove(patch.join(base, "env", i)) for i in sorted(removed)[::-1]]


def _our_tls_entry(entry: Any) -> bool:
    """An env entry pointing into our TLS mount: ours to change (anything else is the admin's)."""
    value = as_map(entry).get("value")
    return isinstance(value, str) and value.startswith(c.TLS_MOUNT_PATH + "/")


def tls_ops(
    frags: Fragments,
    spec: Mapping[str, Any],
    base: str,
    containers: Sequence[tuple[Mapping[str, Any], str]],
) -> list[PatchOp]:
    """The TLS volume (added, or replaced when ours holds another shape) and its mounts.

    Callers have checked `tls_volume_conflict` and `path_conflict` first.
    """
    if frags.tls_volume is None or frags.tls_mount is None:
        return []
    planned: list[PatchOp] = []
    for container, cbase in containers:
        if not mounts(container, c.TLS_VOLUME_NAME):
            planned += append(container, "volumeMounts", cbase, [frags.tls_mount])
    index = find(spec.get("volumes"), c.TLS_VOLUME_NAME)
    if index is None:
        planned += append(spec, "volumes", base, [frags.tls_volume])
    elif spec["volumes"][index] != frags.tls_volume:
        planned.append(patch.replace(patch.join(base, "volumes", index), frags.tls_volume))
    return planned


def tls_volume_conflict(frags: Fragments, volumes: Any, extra: Sequence[str] = ()) -> str | None:
    """A warning when ``volumes`` has a ``vsi-vault-tls`` volume that is not ours: a projection
    of the profile's TLS Secrets only (``extra``: allowed non-source fields, as for
    `is_volume`)."""
    source = frags.profile.connection.tls
    if frags.tls_volume is None or source is None:
        return None
    index = find(volumes, c.TLS_VOLUME_NAME)
    if index is None or is_tls_projection(volumes[index], source.secret_names, extra):
        return None
    secrets = sorted(source.secret_names)
    expected = f"Secret {secrets[0]}" if len(secrets) == 1 else "the profile's TLS Secrets"
    return foreign_volume(c.TLS_VOLUME_NAME, f"a projection of {expected}")


def tls_conflict(frags: Fragments, spec: Mapping[str, Any], container: Any) -> str | None:
    """A warning when the profile's TLS files cannot be added for ``container``: the pod has a
    ``vsi-vault-tls`` volume that is not ours, or the container mounts another at our path."""
    if frags.tls_mount is None:
        return None
    return tls_volume_conflict(frags, spec.get("volumes")) or path_conflict(
        [container], c.TLS_VOLUME_NAME, c.TLS_MOUNT_PATH
    )


def is_tls_projection(volume: Any, secrets: frozenset[str], extra: Sequence[str] = ()) -> bool:
    """Whether ``volume`` projects nothing but some of ``secrets`` (a TLS volume of ours)."""
    projected = as_map(volume).get("projected")
    if not is_map(projected) or not all(k in ("name", "projected", *extra) for k in volume):
        return False
    sources = as_list(projected.get("sources"))
    return bool(sources) and all(
        list(as_map(s)) == ["secret"] and name_in(as_map(as_map(s)["secret"]).get("name"), secrets)
        for s in sources
    )


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


def vault_token_conflict(frags: Fragments, volumes: Any) -> str | None:
    """A warning when the pod has a ``vsi-vault-token`` volume that is not the profile's token."""
    if frags.vault_token_volume is None:
        return None
    index = find(volumes, c.VAULT_TOKEN_VOLUME_NAME)
    if index is None or _is_vault_token(volumes[index], frags.vault_token_volume):
        return None
    audience = frags.profile.connection.token_audience[:40]
    return foreign_volume(
        c.VAULT_TOKEN_VOLUME_NAME, f"a service-account token for audience {audience}"
    )


def _is_vault_token(volume: Any, ours: Mapping[str, Any]) -> bool:
    """Whether ``volume`` is ``ours`` (the API server may have added ``defaultMode``)."""
    projected = as_map(as_map(volume).get("projected"))
    if set(as_map(volume)) != {"name", "projected"} or not set(projected) <= {
        "sources",
        "defaultMode",
    }:
        return False
    return bool(projected.get("sources") == ours["projected"]["sources"])


def vault_token_volumes(frags: Fragments, spec: Mapping[str, Any]) -> list[Json]:
    """The injector's Vault token volume to append, when the profile gives one and the pod lacks
    it (callers have checked `vault_token_conflict`, and append it with their own volumes in one
    call: two appends to a missing list would each add it whole)."""
    volume = frags.vault_token_volume
    if volume is None or find(spec.get("volumes"), c.VAULT_TOKEN_VOLUME_NAME) is not None:
        return []
    return [volume]


def vault_token_mounts(frags: Fragments) -> list[Json]:
    """The injector's mount of its Vault token (none without one). The pod's own API token
    (``kube-api-access-*``) is never mounted into the injector."""
    return [] if frags.vault_token_mount is None else [frags.vault_token_mount]
