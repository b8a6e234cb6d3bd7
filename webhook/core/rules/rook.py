"""What Rook's pods look like: the shapes the rook-osd and rook-kms rules tell apart.

Rook keeps an OSD's dm-crypt key either in its own Secret (default mode: the pod's volume
``osd-encryption-key`` is that Secret) or in its KMS (that volume is an in-memory ``emptyDir``
which Rook's ``encryption-kms-get-kek`` init container fills). The two profile types split OSD
pods on that volume, never on a name alone, so exactly one rule claims a pod before and after
the webhook changed it: rook-osd turns Rook's Secret into an ``emptyDir`` too, but keeps the
Secret mounted as the seed volume. The argv and env readers serve the other Rook pods, which are
told apart by the ``rook`` command they run.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.core import constants as c
from webhook.core.rules import ops
from webhook.core.rules.base import UNCHANGED, Plan, Subject
from webhook.core.shapes import as_list, as_map, find, is_map, mounts, name_in, pvc_names


def osd_key_volume(subject: Subject) -> Mapping[str, Any] | None:
    """The key volume of a Pod labelled as an OSD on a PVC, or None for any other object."""
    labels = subject.labels
    if labels.get(c.ROOK_APP_LABEL) != c.ROOK_OSD_APP or not labels.get(c.ROOK_PVC_LABEL):
        return None
    volumes = as_list(subject.spec.get("volumes"))
    index = find(volumes, c.ROOK_KEY_VOLUME)
    return None if index is None else as_map(volumes[index])


def kms_mode(spec: Mapping[str, Any], key_volume: Mapping[str, Any]) -> bool:
    """Whether an OSD pod is in Rook's KMS mode: its key volume is not Rook's Secret, and not
    the in-memory volume the rook-osd rule made of that Secret (which keeps the seed volume)."""
    return (
        not is_map(key_volume.get("secret"))
        and find(spec.get("volumes"), c.SEED_VOLUME_NAME) is None
    )


def argv(container: Any) -> list[str]:
    """The container's ``command`` and ``args`` as one list (anything but strings left out)."""
    ctr = as_map(container)
    return [a for field in ("command", "args") for a in as_list(ctr.get(field)) if type(a) is str]


def runs(container: Any, words: Sequence[str]) -> bool:
    """Whether ``words`` appear in a row in the container's argv (``rook ceph operator``...)."""
    line = argv(container)
    size = len(words)
    return any(line[i : i + size] == list(words) for i in range(len(line) - size + 1))


def env_value(container: Any, name: str) -> str | None:
    """The plain ``value`` of the container's env entry ``name``; None when unset or not plain."""
    for entry in as_list(as_map(container).get("env")):
        if is_map(entry) and entry.get("name") == name:
            value = entry.get("value")
            return value if isinstance(value, str) else None
    return None


def mount_path(container: Any, volume: str) -> str | None:
    """Where the container mounts ``volume``; None when it does not."""
    for mount in as_list(as_map(container).get("volumeMounts")):
        if (
            is_map(mount)
            and mount.get("name") == volume
            and isinstance(mount.get("mountPath"), str)
        ):
            return str(mount["mountPath"])
    return None


def kms_container(spec: Mapping[str, Any], *required: tuple[str, str]) -> int | None:
    """Index of the first container whose env has ``KMS_PROVIDER: vault`` and every
    ``(name, value)`` of ``required``: a container Rook configured for its Vault KMS."""
    for index, container in enumerate(as_list(spec.get("containers"))):
        wanted = ((c.ROOK_KMS_PROVIDER_ENV, c.ROOK_KMS_VAULT), *required)
        if all(env_value(container, name) == value for name, value in wanted):
            return index
    return None


def unexpected_shape(expected: str) -> Plan:
    """An ``unexpected-shape`` skip naming what the Rook pod this webhook knows would have."""
    warning = f"Rook pod shape unknown (expected {expected}); {UNCHANGED}"
    return Plan([], [warning], c.SKIP_UNEXPECTED_SHAPE)


@dataclass(frozen=True)
class Kek:
    """The parts of a KMS-mode OSD pod as Rook release 1.18 makes it (a 1.14 pod has them too)."""

    index: int
    """Position of ``encryption-kms-get-kek`` among the init containers."""
    container: Mapping[str, Any]
    """``encryption-kms-get-kek`` itself (its env says where Rook keeps the key)."""
    pvc: str
    """The OSD's data PVC (label ``ceph.rook.io/pvc``): the key is Rook's key of that name."""
    readers: tuple[Mapping[str, Any], ...]
    """The other init containers that mount the key volume (``encryption-open``, ...)."""
    device: Mapping[str, Any] | None
    """The ``volumeDevices`` entry of an earlier init container that maps the data PVC (Rook's
    ``blkdevmapper``); None when none does."""


def find_kek(subject: Subject) -> Kek | Plan:
    """The parts of a KMS-mode OSD pod the rook-kms rule needs, or the skip that says which
    part is not there (or, for a label naming none of the pod's PVCs, a conflict)."""
    spec, pvc = subject.spec, subject.labels.get(c.ROOK_PVC_LABEL)
    if not isinstance(pvc, str) or pvc not in pvc_names(spec):
        # Otherwise a look-alike pod could have the injector read another OSD's key.
        return ops.conflict(
            f"label {c.ROOK_PVC_LABEL} {str(pvc)[:40]} names none of the pod's PVC volumes; "
            f"{UNCHANGED}"
        )
    if not ops.is_volume(osd_key_volume(subject), "emptyDir", ops.MEMORY):
        return unexpected_shape(f"{c.ROOK_KEY_VOLUME} as emptyDir medium Memory")
    init = as_list(spec.get("initContainers"))
    index = find(init, c.ROOK_KMS_INIT_CONTAINER)
    if index is None:
        return unexpected_shape(f"init container {c.ROOK_KMS_INIT_CONTAINER}")
    kek = init[index]
    where = mount_path(kek, c.ROOK_KEY_VOLUME)
    key_file = posixpath.join(where or "/", c.ROOK_KEY_FILE)
    if where is None or not runs(kek, [*c.ROOK_GET_KEK_ARGS, pvc, key_file]):
        return unexpected_shape(
            f"{c.ROOK_KMS_INIT_CONTAINER} args: {' '.join(c.ROOK_GET_KEK_ARGS)} PVC KEYFILE"
        )
    opener = find(init, c.ROOK_OPEN_CONTAINER)
    if opener is None or opener < index or not mounts(init[opener], c.ROOK_KEY_VOLUME):
        return unexpected_shape(
            f"{c.ROOK_OPEN_CONTAINER} after {c.ROOK_KMS_INIT_CONTAINER}, mounting the key"
        )
    readers = tuple(ct for i, ct in enumerate(init) if i != index and mounts(ct, c.ROOK_KEY_VOLUME))
    return Kek(index, kek, pvc, readers, _block_device(spec, init[:index], pvc))


def _block_device(
    spec: Mapping[str, Any], earlier: Sequence[Any], pvc: str
) -> Mapping[str, Any] | None:
    """The first ``volumeDevices`` entry of ``earlier`` init containers that maps ``pvc``."""
    claims = frozenset(
        v["name"]
        for v in as_list(spec.get("volumes"))
        if is_map(v)
        and type(v.get("name")) is str
        and as_map(v.get("persistentVolumeClaim")).get("claimName") == pvc
    )
    for container in earlier:
        for device in as_list(as_map(container).get("volumeDevices")):
            path = as_map(device).get("devicePath")
            if (
                name_in(as_map(device).get("name"), claims)
                and isinstance(path, str)
                and path.startswith("/")
            ):
                return {"name": device["name"], "devicePath": path}
    return None
