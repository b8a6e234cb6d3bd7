"""Kubernetes CEL as the API server evaluates it, with cel-python: matchConditions and policies.

The API server binds ``object`` (the new object, null on DELETE), ``oldObject`` (null on CREATE)
and ``request`` (the AdmissionRequest: operation, userInfo, name, ...) as unstructured JSON, so the
expressions are evaluated here on the JSON a request carries (`variables`).

cel-python 0.5 evaluates what the expressions use (``has()``, ``exists()``, ``all()``, ``map()``,
``in`` on maps and lists, ``==`` on lists and maps, ``startsWith``) as cel-go does, with one
difference that matters: ``has(a.b.c)`` with ``a.b`` absent is false in cel-python but an error
in cel-go (``no such key``), and an error in a matchCondition of a ``failurePolicy: Fail`` entry
refuses the request. `unguarded` finds, without evaluating, every field path an expression reads
whose parent is neither always present nor tested with ``has()`` in that expression; an
evaluation error (a field read where it is absent) is an error here too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from celpy.celtypes import BoolType
from celpy.evaluation import CELEvalError

Obj = dict[str, Any]

PATH = re.compile(r"\b((?:object|oldObject|request)(?:\.[A-Za-z_]\w*)+)")
"""A field path rooted at one of the three variables (``object.metadata.labels``)."""
HAS = re.compile(r"\bhas\(\s*((?:object|oldObject|request)(?:\.[A-Za-z_]\w*)+)\s*\)")
"""The path a ``has()`` test takes."""
METHODS = frozenset({"exists", "exists_one", "all", "map", "filter", "size", "startsWith"})
"""Names after a dot that are calls, not fields."""


@functools.lru_cache(maxsize=256)
def _program(expression: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(expression))


def variables(
    obj: Obj | None,
    old: Obj | None = None,
    *,
    operation: str = "CREATE",
    username: str = "system:serviceaccount:kube-system:daemon-set-controller",
    name: str = "",
    resource: tuple[str, str, str] = ("", "", ""),
) -> dict[str, Any]:
    """``object``, ``oldObject`` and ``request`` as the API server binds them; ``resource`` is
    the request's (group, version, plural)."""
    meta = (obj or old or {}).get("metadata") or {}
    group, version, plural = resource
    request = {
        "resource": {"group": group, "version": version, "resource": plural},
        "operation": operation,
        "name": name or meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "userInfo": {"username": username, "groups": ["system:authenticated"]},
        "dryRun": False,
    }
    return {
        "object": json_to_cel(obj),
        "oldObject": json_to_cel(old),
        "request": json_to_cel(request),
    }


def evaluate(expression: str, bound: Mapping[str, Any]) -> Any:
    """The expression's value; a CEL error (a field read where it is absent) raises."""
    result = _program(expression).evaluate(dict(bound))
    if isinstance(result, CELEvalError):
        raise result
    return result


def holds(expression: str, bound: Mapping[str, Any]) -> bool:
    """Whether the expression is true (it must be a boolean)."""
    result = evaluate(expression, bound)
    assert isinstance(result, BoolType), f"{expression!r} gave {result!r}"
    return bool(result)


def _fields(path: str) -> list[str]:
    """``object.spec.volumes`` without a trailing method name (``.exists``)."""
    parts = path.split(".")
    while parts and parts[-1] in METHODS:
        parts.pop()
    return parts


def unguarded(expression: str, present: Iterable[str]) -> list[str]:
    """The paths the expression needs that are neither in ``present`` (always there in the
    objects it sees) nor tested with ``has()`` in it: the parent of a path ``has()`` tests, and a
    path it reads (with each of its parents)."""
    known = set(present) | set(HAS.findall(expression))
    missing: list[str] = []
    for found in PATH.finditer(expression):
        parts = _fields(found.group(1))
        tested = re.search(r"\bhas\(\s*$", expression[: found.start()]) is not None
        last = len(parts) - 1 if tested else len(parts)
        for end in range(1, last + 1):
            needed = ".".join(parts[:end])
            if needed not in known and needed not in missing:
                missing.append(needed)
    return missing
