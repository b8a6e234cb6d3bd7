"""What a GitOps tool's re-apply makes of a live object, for the fields the webhook touches.

**Client-side apply** (``kubectl apply``, Argo CD's default sync, and Argo CD's default "legacy"
diff, which predicts the live object the same way: gitops-engine ``ThreeWayDiff``) sends a
three-way patch computed from the last-applied configuration (the
``kubectl.kubernetes.io/last-applied-configuration`` annotation), the new configuration and the
live object. For a built-in kind it is a strategic merge patch: a list with a patch merge key
(`MERGE_KEYS`: containers, env and volumes by name, volumeMounts by mountPath, ...) merges item
by item, any other list (``args``, ``command``, ``tolerations``) is replaced whole. For a custom
resource such as a StorageCluster it is a JSON merge patch (RFC 7386): every list is replaced
whole. Maps merge; a key the last-applied configuration had and the new one lacks is removed; a
key only the live object has (defaults, other writers, the webhook) is kept. `three_way` is that
merge, for these rules; an item the live list lacks is appended (kubectl orders new items by the
configuration with ``$setElementOrder``; a re-apply of the same configuration adds none).

**Server-side apply** (Flux's kustomize-controller and helm-controller, Argo CD with
``ServerSideApply=true``): the API server merges the applied configuration into the live object
by the same list semantics (associative lists by key; atomic lists, and every list of a custom
resource without list-type markers, replaced whole) and removes the fields the applier owned
before and no longer applies. The fields a mutating webhook adds belong to no field manager:
on update and patch the API server computes managedFields before mutating admission
(kubernetes/kubernetes#87672), so the webhook's entries are nobody's and a re-apply keeps them.
`server_side_apply` models exactly that, from the applier's field set.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
}
"""The patch merge keys (``x-kubernetes-patch-merge-key``) of the pod-spec lists the webhook
touches or passes through, as the Kubernetes OpenAPI schema gives them."""


def three_way(original: Any, modified: Any, current: Any, *, strategic: bool) -> Any:
    """The live object after ``kubectl apply`` of ``modified``, whose last-applied
    configuration was ``original``, onto ``current`` (``strategic``: a built-in kind)."""
    return _merge(original, modified, current, strategic, None)


def _merge(original: Any, modified: Any, current: Any, strategic: bool, field: str | None) -> Any:
    if isinstance(modified, dict) and isinstance(current, dict):
        orig = original if isinstance(original, dict) else {}
        result: dict[str, Any] = {}
        for key, value in current.items():
            if key in modified:
                result[key] = _merge(orig.get(key), modified[key], value, strategic, key)
            elif key not in orig:  # not the configuration's: defaults, other writers, webhooks
                result[key] = copy.deepcopy(value)
        for key, value in modified.items():
            if key not in current:
                result[key] = copy.deepcopy(value)
        return result
    keyed = strategic and field in MERGE_KEYS
    if keyed and isinstance(modified, list) and isinstance(current, list):
        return _merge_list(original, modified, current, MERGE_KEYS[str(field)])
    return copy.deepcopy(modified)


def _merge_list(original: Any, modified: list[Any], current: list[Any], key: str) -> list[Any]:
    orig = {i.get(key): i for i in original or [] if isinstance(i, dict)}
    new = {i.get(key): i for i in modified if isinstance(i, dict)}
    result: list[Any] = []
    for item in current:
        name = item.get(key) if isinstance(item, dict) else None
        if name in new:
            result.append(_merge(orig.get(name), new[name], item, True, None))
        elif name not in orig:
            result.append(copy.deepcopy(item))
    live = {i.get(key) for i in current if isinstance(i, dict)}
    result += [copy.deepcopy(i) for name, i in new.items() if name not in live]
    return result


Path = tuple[Any, ...]
"""A field path: map keys, and ``(merge key, value)`` pairs for associative list items."""


def field_set(obj: Any, *, strategic: bool) -> set[Path]:
    """Every leaf field of ``obj`` (what an applier of ``obj`` owns): maps by key, associative
    lists by their items' keys, anything else (atomic lists included) as one field."""
    return set(_fields(obj, (), strategic, None))


def _fields(obj: Any, at: Path, strategic: bool, field: str | None) -> Iterator[Path]:
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            yield from _fields(value, (*at, key), strategic, key)
    elif strategic and field in MERGE_KEYS and isinstance(obj, list) and obj:
        key = MERGE_KEYS[str(field)]
        for item in obj:
            yield from _fields(
                {k: v for k, v in item.items() if k != key},
                (*at, (key, item.get(key))),
                strategic,
                None,
            )
            yield (*at, (key, item.get(key)), key)
    else:
        yield at


def server_side_apply(
    config: Mapping[str, Any], live: Mapping[str, Any], owned: set[Path], *, strategic: bool
) -> Any:
    """The live object after a server-side apply of ``config`` by a manager that owned
    ``owned``: the fields it owned and no longer applies are removed, then ``config`` is merged
    in (no other manager's field conflicts here: the webhook's belong to none)."""
    kept = field_set(config, strategic=strategic)
    pruned = copy.deepcopy(dict(live))
    for path in sorted(owned - kept, key=len, reverse=True):
        _remove(pruned, path)
    return _merge(None, dict(config), pruned, strategic, None)


def _remove(obj: Any, path: Path) -> None:
    """Remove the field at ``path``; an item's merge key removes the whole item."""
    if len(path) >= 2 and isinstance(path[-2], tuple) and path[-2][0] == path[-1]:
        path = path[:-1]
    for index, step in enumerate(path):
        last = index == len(path) - 1
        if isinstance(step, tuple) and isinstance(obj, list):
            key, value = step
            match = next((i for i in obj if isinstance(i, dict) and i.get(key) == value), None)
            if match is None:
                return
            if last:
                obj.remove(match)
                return
            obj = match
        elif isinstance(obj, dict) and step in obj:
            if last:
                del obj[step]
                return
            obj = obj[step]
        else:
            return
