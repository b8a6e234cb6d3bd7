"""The objects the webhook would mutate, judged by the webhook's own mutator.

Every listed DaemonSet, StorageCluster and pod goes through `webhook.core.mutation.build_mutator`
with the same profiles and an `AdmissionContext` like the API server's (UPDATE for the objects a
controller owns, CREATE for pods), so what the doctor says about an object is what the webhook
would do to it: already injected (nothing left to add), would change it (not injected yet, or
injected with settings that have changed since), or leaves it alone and why (a conflict, an
unknown profile, Rook's own KMS, opted out). Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import jsonpatch

from vsi_common.report import OK, WARN, Check
from webhook.core import constants as c
from webhook.core.model import AdmissionContext, ClusterView, MutationResult, Mutator
from webhook.doctor.consumers import Consumer, consumer_of
from webhook.doctor.state import POD, Json, Locations, Unlisted, Workload

REPORTED_SKIPS: Final = frozenset(
    {
        c.SKIP_ALREADY_INJECTED,
        c.SKIP_KMS_MANAGED,
        c.SKIP_CONFLICT,
        c.SKIP_MALFORMED,
        c.SKIP_UNKNOWN_PROFILE,
        c.SKIP_NO_PROFILE,
        c.SKIP_OPTED_OUT,
        c.SKIP_OPERATOR_MANAGED,
        c.SKIP_NAMESPACE_NOT_SERVED,
    }
)
"""Skips worth a line: a profile matched (or was asked for) and the webhook still left the object
as it is. A plain ``no-profile`` without a warning (most pods) is not reported."""
INJECTED_REASONS: Final = frozenset({c.REASON_INJECTED, c.SKIP_ALREADY_INJECTED})
"""Results whose object carries (or would carry) a profile's Vault settings."""


@dataclass(frozen=True)
class Judged:
    """One object and what the webhook would do with it."""

    workload: Workload
    """The object as listed."""
    result: MutationResult
    """The mutator's answer."""
    mutated: Json
    """The object with the patch applied (the object itself when there is nothing to add)."""

    @property
    def annotated(self) -> bool:
        """Whether it carries ``vault-storage-injector.io/status: injected``."""
        annotations = (self.workload.obj.get("metadata") or {}).get("annotations") or {}
        return bool(annotations.get(c.ANNOTATION_STATUS) == c.STATUS_INJECTED)

    @property
    def check_name(self) -> str:
        """``object:<namespace>/<Kind>/<name>``."""
        return self.workload.check_name


def _context(workload: Workload, loc: Locations, view: ClusterView) -> AdmissionContext:
    kind = workload.kind
    return AdmissionContext(
        operation=kind.operation,
        namespace=workload.namespace,
        group=kind.group,
        version=kind.version,
        kind=kind.kind,
        dry_run=True,
        webhook_namespace=loc.namespace,
        cluster=view,
        assume_namespace_enabled=True,
    )


def _reported(
    mutator: Mutator, workload: Workload, result: MutationResult, ctx: AdmissionContext
) -> bool:
    if result.outcome == "mutated":
        return True
    if result.reason not in REPORTED_SKIPS:
        return False
    if result.reason in (c.SKIP_NO_PROFILE, c.SKIP_OPERATOR_MANAGED):
        # A profile was asked for by name and does not apply; an operator's pod lacks what its
        # StorageCluster would give it (one that carries it is the StorageCluster's, silently).
        return bool(result.warnings)
    if result.reason == c.SKIP_OPTED_OUT:  # only objects a profile would otherwise match
        unmarked = copy.deepcopy(workload.obj)
        unmarked.get("metadata", {}).get("annotations", {}).pop(c.ANNOTATION_INJECT, None)
        return mutator(unmarked, ctx).profile is not None
    return True


def judge(
    mutator: Mutator,
    workloads: Iterable[Workload],
    loc: Locations,
    view: ClusterView,
    *,
    keep_managed: bool = False,
) -> list[Judged]:
    """What the webhook would do with each object a profile matches (the others are dropped).

    Every namespace is treated as opted in here: the namespace checks say which are not.
    ``keep_managed``: keep an operator's pod that its StorageCluster wired (pods-only mode judges
    the StorageCluster by its pod).
    """
    judged: list[Judged] = []
    for workload in workloads:
        ctx = _context(workload, loc, view)
        result = mutator(workload.obj, ctx)
        managed = keep_managed and result.reason == c.SKIP_OPERATOR_MANAGED
        if not managed and not _reported(mutator, workload, result, ctx):
            continue
        mutated = (
            jsonpatch.apply_patch(workload.obj, list(result.ops)) if result.ops else workload.obj
        )
        judged.append(Judged(workload, result, mutated))
    return judged


def _renew_fix(w: Workload) -> str:
    """How to get an object through the webhook again."""
    if w.kind == POD:
        return (
            f"delete the pod so that its controller creates it again through the webhook: "
            f"kubectl -n {w.namespace} delete pod {w.name}"
        )
    if w.kind.kind == "DaemonSet":
        return (
            f"kubectl -n {w.namespace} rollout restart daemonset/{w.name} (an update goes "
            "through the webhook, and the new pods get the settings)"
        )
    return (
        f"update the {w.kind.kind} so that the webhook sees it (kubectl -n {w.namespace} apply "
        "it again); the operator then rolls the pods"
    )


def _skip_fix(result: MutationResult, profiles: Sequence[str]) -> str:
    if result.reason == c.SKIP_UNKNOWN_PROFILE or result.reason == c.SKIP_NO_PROFILE:
        return (
            f"set {c.ANNOTATION_PROFILE} to a profile that applies to it "
            f"(configured: {', '.join(profiles)}), or add the profile to the profiles file"
        )
    if result.reason == c.SKIP_NAMESPACE_NOT_SERVED:
        return (
            "add the namespace to the profile's namespaces, give it the labels of its "
            "namespaceSelector, or use a profile that serves it"
        )
    if result.reason == c.SKIP_MALFORMED:
        return "fix the field named (the API server's schema check rejects it too)"
    if result.reason == c.SKIP_OPERATOR_MANAGED:
        return (
            "give the StorageCluster named its Vault settings (a portworx-operator profile, then "
            "apply it again); the operator then renders its pods with them"
        )
    return (
        "remove what conflicts (named above), or opt the object out with "
        f'{c.ANNOTATION_INJECT}: "false"'
    )


def object_check(j: Judged, profiles: Sequence[str]) -> Check:
    """``object:<ns>/<Kind>/<name>``: what the webhook would do with this object."""
    result, profile = j.result, j.result.profile
    warned = "; ".join(result.warnings)
    if result.outcome == "mutated":
        count = f"{len(result.ops)} patch operations"
        if j.annotated:
            detail = (
                f"carries {c.ANNOTATION_STATUS}: {c.STATUS_INJECTED}, but the webhook would "
                f"change it now ({count}, profile {profile}): injected with other settings "
                "(the profile or the Secret keys changed since)"
            )
        else:
            detail = f"not injected: the webhook would add profile {profile} ({count})"
        if warned:
            detail += f"; admission warnings: {warned}"
        return Check(j.check_name, WARN, detail, _renew_fix(j.workload))
    if result.reason == c.SKIP_ALREADY_INJECTED:
        mark = f"{c.ANNOTATION_STATUS}: {c.STATUS_INJECTED}" if j.annotated else "no status mark"
        return Check(j.check_name, OK, f"already injected with profile {profile} ({mark})")
    if result.reason == c.SKIP_OPTED_OUT:
        return Check(j.check_name, OK, f'opted out ({c.ANNOTATION_INJECT}: "false")')
    if result.reason == c.SKIP_KMS_MANAGED:
        return Check(j.check_name, OK, f"left alone: {warned}")
    detail = f"left unchanged ({result.reason}): {warned or 'no profile applies'}"
    return Check(j.check_name, WARN, detail, _skip_fix(result, profiles))


def objects_checks(
    namespace: str,
    judged: Sequence[Judged],
    unlisted: Iterable[Unlisted],
    profiles: Sequence[str],
) -> list[Check]:
    """``objects:<ns>`` (what was found, what could not be listed) and one ``object:`` check for
    every DaemonSet and StorageCluster, and for every pod that is not simply injected."""
    misses = [m for m in unlisted if m.namespace in (None, namespace)]
    checks = [object_check(j, profiles) for j in judged]
    shown = [
        check
        for j, check in zip(judged, checks, strict=True)
        if j.workload.kind != POD or j.result.reason != c.SKIP_ALREADY_INJECTED
    ]
    injected = sum(1 for j in judged if j.result.reason == c.SKIP_ALREADY_INJECTED)
    changed = sum(1 for j in judged if j.result.outcome == "mutated")
    if judged:
        objects = "1 object" if len(judged) == 1 else f"{len(judged)} objects"
        detail = (
            f"{objects} a profile matches: {injected} already injected, "
            f"{changed} the webhook would change, {len(judged) - injected - changed} left alone"
        )
    else:
        detail = "no DaemonSet, StorageCluster or pod here that a profile matches"
    name = f"objects:{namespace}"
    if not misses:
        return [Check(name, OK, detail), *shown]
    detail += "; not checked: " + "; ".join(m.failed.message for m in misses)
    forbidden = sorted({m.kind.plural for m in misses if m.failed.forbidden})
    fix = (
        f"give the doctor's service account list on {', '.join(forbidden)} "
        "(manifests/components/doctor)"
        if forbidden
        else "check the Kubernetes API server"
    )
    return [Check(name, WARN, detail, fix), *shown]


def profiles_used(judged: Iterable[Judged]) -> frozenset[str]:
    """The profiles the webhook chose for these objects."""
    return frozenset(j.result.profile for j in judged if j.result.profile)


def consumers(judged: Iterable[Judged]) -> list[Consumer]:
    """The Vault clients among the objects that carry (or would carry) a profile's settings."""
    found = []
    for j in judged:
        if j.result.reason not in INJECTED_REASONS or j.result.profile is None:
            continue
        consumer = consumer_of(j.workload, j.mutated, j.result.profile)
        if consumer is not None:
            found.append(consumer)
    return found


def by_namespace(judged: Iterable[Judged]) -> Mapping[str, list[Judged]]:
    """The judged objects grouped by namespace, in listing order."""
    groups: dict[str, list[Judged]] = {}
    for j in judged:
        groups.setdefault(j.workload.namespace, []).append(j)
    return groups
