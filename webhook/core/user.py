"""Which user the injected init container runs as, so the key files belong to their reader.

Key files are mode 0400 (or 0440): only their owner (or group) can read them. So the injector runs
as the consumers' common non-root user when they have one; otherwise as the configured default uid,
with group-readable files when the pod has an fsGroup (the kubelet gives the in-memory volume that
group). Root consumers read any file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.core.shapes import as_map, id_or_none, is_id


@dataclass(frozen=True)
class InjectorUser:
    """The injector's identity and the ownership of the key files it writes."""

    uid: int
    """``runAsUser`` of the injected container (never 0)."""
    gid: int | None
    """``runAsGroup`` of the injected container; None leaves the image's group."""
    owner: str
    """``VSI_FILE_OWNER``: ``UID`` or ``UID:GID`` of the key files."""
    group_readable: bool
    """``VSI_FILE_GROUP_READABLE``: files 0440 for an fsGroup reader instead of 0400."""
    from_pod: bool
    """True when the uid is the consumers' own; False when it is the configured default."""


def injector_user(
    spec: Mapping[str, Any], consumers: Sequence[Any], default_uid: int
) -> InjectorUser:
    """The user for an injector whose key files ``consumers`` (containers of ``spec``) read."""
    pod_ctx = as_map(spec.get("securityContext"))
    pod_uid, pod_gid = pod_ctx.get("runAsUser"), pod_ctx.get("runAsGroup")
    users: set[int | None] = set()
    groups: set[int | None] = set()
    for container in consumers:
        ctx = as_map(as_map(container).get("securityContext"))
        users.add(id_or_none(ctx.get("runAsUser", pod_uid)))
        groups.add(id_or_none(ctx.get("runAsGroup", pod_gid)))
    if not consumers:
        users.add(id_or_none(pod_uid))
        groups.add(id_or_none(pod_gid))
    uid = next(iter(users)) if len(users) == 1 else None
    if uid is not None and uid > 0:
        group = next(iter(groups)) if len(groups) == 1 else None
        owner = f"{uid}:{group}" if group is not None else str(uid)
        return InjectorUser(uid, group, owner, group_readable=False, from_pod=True)
    fs_group = pod_ctx.get("fsGroup")
    if is_id(fs_group):
        owner = f"{default_uid}:{fs_group}"
        return InjectorUser(default_uid, None, owner, group_readable=True, from_pod=False)
    return InjectorUser(default_uid, None, str(default_uid), group_readable=False, from_pod=False)
