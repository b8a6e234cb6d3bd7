"""What a rule is: the objects it matches (`Rule.applies`) and what it plans for them (`Rule.plan`).

`webhook.core.mutation` builds one `Subject` per request, asks the rules registered for its kind
whether they apply, picks a profile among the matching types, and calls that type's `plan`. A plan
is patch operations (empty: nothing to do) or a skip reason with warnings; a rule never raises for
a malformed object except `MalformedError`, which the dispatcher turns into a ``malformed`` skip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from webhook.core.compiled import Fragments
from webhook.core.model import ClusterView, PatchOp
from webhook.core.profiles import Config
from webhook.core.shapes import as_map, pod_spec

UNCHANGED: Final = "object left unchanged"
"""How every skip warning ends, so the apiserver's user knows nothing was added."""


class Subject(NamedTuple):
    """The admitted object and the request facts every rule looks at, read once per request.

    A NamedTuple, not a frozen dataclass: one is built per admission request, and a tuple is built
    and read faster (measured with callgrind: the dataclass cost about 1% of a review).
    """

    obj: Mapping[str, Any]
    """The object as admitted (untrusted shape)."""
    kind: str
    """Its kind (from the request, else the object)."""
    group: str
    """Its API group ("" for the core group)."""
    creating: bool
    """The request is a CREATE (else an UPDATE)."""
    labels: Mapping[str, Any]
    """``metadata.labels`` (empty when absent or malformed)."""
    annotations: Mapping[str, Any]
    """``metadata.annotations`` (empty when absent or malformed)."""
    base: str
    """JSON Pointer of the pod spec: ``/spec`` (Pod) or ``/spec/template/spec`` (workloads)."""
    spec: Mapping[str, Any]
    """The pod spec (empty for objects without one, such as a StorageCluster)."""
    namespace: str = ""
    """The object's namespace (the request's, else its metadata's)."""
    cluster: ClusterView | None = None
    """The watch-fed caches (Secret presence), for the rules that must know where a Secret is."""


def subject_of(
    obj: Mapping[str, Any],
    kind: str,
    group: str,
    operation: str,
    meta: Mapping[str, Any],
    namespace: str = "",
    cluster: ClusterView | None = None,
) -> Subject:
    """The subject of one request; ``meta`` is the object's metadata (as a mapping)."""
    base, spec = pod_spec(obj, kind)
    labels, annotations = as_map(meta.get("labels")), as_map(meta.get("annotations"))
    creating = operation == "CREATE"
    return Subject(obj, kind, group, creating, labels, annotations, base, spec, namespace, cluster)


@dataclass
class Plan:
    """A rule's answer: ops (empty: nothing to do) or a skip reason, plus warnings."""

    ops: list[PatchOp]
    warnings: list[str] = field(default_factory=list)
    skip: str | None = None
    secret_namespace: str | None = None
    """Where the connection Secret must exist, when not in the object's namespace (Portworx
    reads its px-vault itself); empty: nobody can tell (no Secret warning)."""


class MalformedError(Exception):
    """A list the patch must extend holds something else (at ``pointer``)."""

    def __init__(self, pointer: str) -> None:
        super().__init__(pointer)
        self.pointer = pointer


GroupKind = tuple[str, str]
"""``(group, kind)`` of an object, e.g. ``("apps", "DaemonSet")``; ``""`` is the core group."""
POD: Final[GroupKind] = ("", "Pod")
"""A core-group Pod."""


@dataclass(frozen=True)
class Rule:
    """One profile type's rule, registered under its type constant."""

    type: str
    """The profile type (`webhook.core.constants.PROFILE_TYPES`)."""
    kinds: frozenset[GroupKind]
    """The only object kinds `applies` can accept: the registry asks no other rule about them."""
    applies: Callable[[Subject], bool | None]
    """None: the object is not this type's; False: it is, but the operation is not handled
    (a Pod UPDATE, say); True: `plan` handles it."""
    plan: Callable[[Fragments, Subject, Config], Plan]
    """The patch for a matching object, given the profile's fragments for its TLS shape."""
    unconfigured: Callable[[Subject], Plan | None] | None = None
    """What to say about an object `applies` accepts when no profile of this type is configured:
    a skip with its warning, or None (and no function) for a silent ``no-profile``."""
