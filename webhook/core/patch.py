"""JSON Patch (RFC 6902) operations built directly, with RFC 6901 pointer escaping in one helper.

The mutation never deep-copies and diffs (too slow for the admission path); it emits ``add`` /
``replace`` / ``remove`` operations itself. The helpers here keep the two rules the apiserver
enforces: a path segment is escaped (``~`` before ``/``), and nothing is added below a parent that
does not exist, so callers add a missing list or map whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from webhook.core.model import PatchOp


def escape(segment: str | int) -> str:
    """One RFC 6901 reference token: ``~`` becomes ``~0``, then ``/`` becomes ``~1``."""
    text = segment if type(segment) is str else str(segment)
    if "~" in text or "/" in text:
        return text.replace("~", "~0").replace("/", "~1")
    return text  # most segments (field names, indexes) need nothing


def pointer(*segments: str | int) -> str:
    """A JSON Pointer from unescaped segments, e.g. ``pointer("metadata", "annotations", k)``."""
    return "".join(["/" + escape(s) for s in segments])


def join(base: str, *segments: str | int) -> str:
    """Extend an already-escaped pointer ``base`` by unescaped segments."""
    return base + pointer(*segments)


def add(path: str, value: Any) -> PatchOp:
    """An ``add`` operation (on an object member it also replaces an existing value)."""
    return {"op": "add", "path": path, "value": value}


def replace(path: str, value: Any) -> PatchOp:
    """A ``replace`` operation; the target must exist."""
    return {"op": "replace", "path": path, "value": value}


def remove(path: str) -> PatchOp:
    """A ``remove`` operation; the target must exist (list indexes shift down after it)."""
    return {"op": "remove", "path": path}


def append_items(
    parent: Mapping[str, Any], field: str, base: str, items: Iterable[Any]
) -> list[PatchOp]:
    """Ops that append ``items`` to the list ``parent[field]`` (pointer ``base`` is the parent).

    A missing (or null) list is added whole in one op, never element by element below a parent
    that does not exist.
    """
    values = list(items)
    if not values:
        return []
    current = parent.get(field)
    path = join(base, field)
    if not isinstance(current, list):
        return [add(path, values)]
    return [add(path + "/-", value) for value in values]


def insert_item(parent: Mapping[str, Any], field: str, base: str, index: int, item: Any) -> PatchOp:
    """An op inserting ``item`` at ``index`` of ``parent[field]`` (a missing list added whole)."""
    current = parent.get(field)
    if not isinstance(current, list):
        return add(join(base, field), [item])
    return add(join(base, field, index), item)


def set_map_entries(
    parent: Mapping[str, Any], field: str, base: str, entries: Sequence[tuple[str, Any]]
) -> list[PatchOp]:
    """Ops that set ``entries`` in the string-keyed map ``parent[field]`` (added whole if missing).

    Entries whose current value already equals the wanted one produce no op.
    """
    current = parent.get(field)
    if not isinstance(current, Mapping):
        if not entries:
            return []
        return [add(join(base, field), dict(entries))]
    return [
        add(join(base, field, key), value)
        for key, value in entries
        if key not in current or current[key] != value
    ]
