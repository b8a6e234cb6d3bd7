"""Reading untrusted JSON shapes: the helpers every rule uses to look into an admitted object.

The object arrives before schema validation (a StorageCluster's ``spec`` is untyped then), so a rule
never trusts its shape: a piece that is not the expected type reads as absent (`as_map`, `as_list`)
rather than raising. The type tests take the fast path for the types JSON decoding gives (``dict``,
``list``) before the slower abstract-class checks: these run for every list a rule looks into.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeGuard

_NEVER_MAPS: Final = frozenset({type(None), str, list, int, float, bool})
"""The other JSON types: ruled out without `Mapping`'s (slower) abstract-class check."""
_EMPTY: Final[Mapping[str, Any]] = {}


def is_map(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)`` with fast paths for the types JSON decoding gives."""
    kind = type(value)
    return kind is dict or (kind not in _NEVER_MAPS and isinstance(value, Mapping))


def is_map_or_none(value: Any) -> bool:
    """A mapping, or nothing at all."""
    return value is None or is_map(value)


def as_map(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one."""
    return value if type(value) is dict or is_map(value) else _EMPTY


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty one."""
    return value if type(value) is list or isinstance(value, list) else []


def find(items: Any, name: str) -> int | None:
    """Index of the element named ``name`` in a list of containers or volumes."""
    for index, item in enumerate(as_list(items)):
        # The dicts JSON decoding gives first: this runs for every list the rules look into.
        if (type(item) is dict or is_map(item)) and item.get("name") == name:
            return index
    return None


def mounts(container: Any, volume: str) -> bool:
    """Whether ``container`` has a volumeMount of ``volume``."""
    return find(as_map(container).get("volumeMounts"), volume) is not None


def is_id(value: Any) -> TypeGuard[int]:
    """A uid or gid: a non-negative integer that is not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def id_or_none(value: Any) -> int | None:
    """A uid/gid as given, or None for anything else (a malformed value must not be hashed)."""
    return value if is_id(value) else None


def pod_spec(obj: Mapping[str, Any], kind: str) -> tuple[str, Mapping[str, Any]]:
    """The pod spec and its pointer: ``/spec`` for a Pod, ``/spec/template/spec`` for workloads."""
    spec = as_map(obj.get("spec"))
    if kind == "Pod":
        return "/spec", spec
    return "/spec/template/spec", as_map(as_map(spec.get("template")).get("spec"))


def pvc_names(spec: Mapping[str, Any]) -> list[str]:
    """Claim names of the pod's PVC volumes, in order, each once (linear in the volume count)."""
    seen: dict[str, None] = {}
    for volume in as_list(spec.get("volumes")):
        claim = as_map(as_map(volume).get("persistentVolumeClaim")).get("claimName")
        if isinstance(claim, str) and claim:
            seen[claim] = None
    return list(seen)


def pvc_volume_names(volumes: Sequence[Any]) -> frozenset[str]:
    """Names of the pod's volumes that are PVCs."""
    return frozenset(
        v["name"]
        for v in volumes
        if is_map(v) and isinstance(v.get("name"), str) and is_map(v.get("persistentVolumeClaim"))
    )


def name_in(value: Any, names: frozenset[str]) -> bool:
    """Whether ``value`` is one of ``names``; never raises for an unhashable JSON value."""
    return type(value) is str and value in names


def uses_volume(container: Mapping[str, Any], names: frozenset[str]) -> bool:
    """Whether the container mounts (or maps as a block device) one of ``names``."""
    return any(
        is_map(m) and name_in(m.get("name"), names)
        for field in ("volumeMounts", "volumeDevices")
        for m in as_list(container.get(field))
    )


def flag_value(args: Sequence[Any], flag: str) -> str | None:
    """The value of ``flag`` (``-f v``, ``--f v``, ``-f=v``) in ``args``; None when absent."""
    long = "-" + flag
    core = flag.lstrip("-")
    for index, arg in enumerate(args):
        # Most args are unrelated: one substring test rules them out before the exact checks.
        if type(arg) is not str or core not in arg:
            continue
        if arg in (flag, long):
            following = args[index + 1] if index + 1 < len(args) else ""
            return str(following)
        for prefix in (flag + "=", long + "="):
            if arg.startswith(prefix):
                return arg[len(prefix) :]
    return None
