"""Pods-only mode in the doctor: which mode the live webhook configuration is in, which objects
are wired at their pods' creation, and what a DaemonSet or StorageCluster still holds twice.

The mode is read from the MutatingWebhookConfiguration the API server uses, not from a setting:
its entries' rules say whether DaemonSets and StorageClusters are sent (the default,
``workloads``) or only pods (``pods-only``: the chart's ``workloads.mutate=false``,
``manifests/components/pods-only``). In pods-only mode a DaemonSet or StorageCluster is judged
through the pod its controller creates (`webhook.core.controllers`), by the webhook's own
mutator, and two things are worth a warning:

- settings in git that pods-only mode adds to the pods itself (``leftovers:``): our VAULT_* env
  or TLS volume copied into the DaemonSet's template or the StorageCluster's spec (from a
  ``kubectl get -o yaml`` of a mutated object, or left by the webhook before the switch: its
  entries belong to no field manager, so no re-apply removes them), and the
  ``vault-storage-injector.io/status: injected`` mark. The webhook leaves entries present by
  name alone, so the pods keep those copies when the profile changes;
- our opt-out or profile annotation on the DaemonSet or StorageCluster itself: their
  controllers copy the pod template's metadata (the operator: ``spec.metadata.annotations``
  ``pod/storage``), so the pods never see it.

Pure.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from vsi_common.report import OK, WARN, Check
from webhook.core import constants as c
from webhook.core.controllers import POD_ANNOTATIONS, daemonset_pod, operator_pod
from webhook.core.model import ClusterView, Mutator
from webhook.core.rules.operator_pods import RENDERED_TLS_VOLUME
from webhook.doctor import workloads
from webhook.doctor.consumers import Consumer
from webhook.doctor.state import (
    DAEMONSET,
    POD,
    STORAGE_CLUSTER,
    Failed,
    Got,
    Json,
    Locations,
    Workload,
)
from webhook.doctor.workloads import Judged, judge, object_check

WORKLOADS: Final = "workloads"
"""The default mode: DaemonSets and StorageClusters are mutated, and pods at creation."""
PODS_ONLY: Final = "pods-only"
"""Only pods are sent: Portworx is wired pod by pod, the workloads stay as git holds them."""
PARTIAL: Final = "partial"
"""One of the two workload entries is gone: the other kind is still mutated."""
RESOURCES: Final = {DAEMONSET.plural: DAEMONSET, STORAGE_CLUSTER.plural: STORAGE_CLUSTER}
"""The workload resources whose entries decide the mode."""
OUR_ANNOTATIONS: Final = (c.ANNOTATION_INJECT, c.ANNOTATION_PROFILE)
"""Our per-object annotations, which a controller does not copy from the workload itself."""
MAX_NAMED: Final = 4
"""Env names listed in a leftovers warning."""


@dataclass(frozen=True)
class Mode:
    """What the live configuration sends the webhook."""

    name: str
    """`WORKLOADS`, `PODS_ONLY` or `PARTIAL`."""
    sent: frozenset[str]
    """The workload resources (plurals) some entry has a rule for."""


def mode_of(config: Got) -> Mode | None:
    """The mode of the configuration; None when it could not be read or has no pods entry
    (the ``webhook-config`` check says so)."""
    if config is None or isinstance(config, Failed):
        return None
    resources = {
        resource
        for entry in config.get("webhooks") or []
        if isinstance(entry, dict)
        for rule in entry.get("rules") or []
        if isinstance(rule, dict)
        for resource in rule.get("resources") or []
    }
    if POD.plural not in resources:
        return None
    sent = frozenset(resources & RESOURCES.keys())
    if sent == RESOURCES.keys():
        return Mode(WORKLOADS, sent)
    return Mode(PODS_ONLY if not sent else PARTIAL, sent)


def mode_check(mode: Mode | None, loc: Locations) -> Check | None:
    """``webhook-mode``: which objects the API server sends the webhook."""
    if mode is None:
        return None
    name = "webhook-mode"
    if mode.name == WORKLOADS:
        detail = (
            "workloads: Portworx DaemonSets and StorageClusters are mutated (CREATE, UPDATE), "
            "and pods at their creation"
        )
        return Check(name, OK, detail)
    if mode.name == PODS_ONLY:
        detail = (
            f"pods-only: MutatingWebhookConfiguration {loc.webhook_config} has no DaemonSet or "
            "StorageCluster entry; those stay as git holds them, and each Portworx pod is "
            "wired when it is created"
        )
        return Check(name, OK, detail)
    kept = " and ".join(RESOURCES[r].kind + "s" for r in sorted(mode.sent))
    detail = (
        f"partial: only {kept} are sent besides pods; the other kind is wired pod by pod "
        "(an entry removed by hand?)"
    )
    fix = (
        "pick one mode: workloads.mutate (chart) or manifests/components/pods-only "
        "(kustomize) removes both entries; re-apply manifests/base to keep both"
    )
    return Check(name, WARN, detail, fix)


def wired_at_creation(mode: Mode | None) -> frozenset[str]:
    """The workload kinds whose pods, not themselves, are mutated in ``mode``."""
    if mode is None or mode.name == WORKLOADS:
        return frozenset()
    return frozenset(RESOURCES[r].kind for r in RESOURCES.keys() - mode.sent)


def split(
    workloads: Iterable[Workload], mode: Mode | None
) -> tuple[list[Workload], list[Workload]]:
    """The objects judged as themselves, and those judged through their pods."""
    through_pods = wired_at_creation(mode)
    own: list[Workload] = []
    created: list[Workload] = []
    for w in workloads:
        (created if w.kind.kind in through_pods else own).append(w)
    return own, created


@dataclass(frozen=True)
class Created:
    """A DaemonSet or StorageCluster of pods-only mode, and what its pod would get."""

    origin: Workload
    """The DaemonSet or StorageCluster as listed."""
    pod: Judged
    """The pod its controller creates, judged by the webhook's mutator."""

    @property
    def check_name(self) -> str:
        """``object:<namespace>/<Kind>/<name>`` of the origin."""
        return self.origin.check_name


def pod_of(origin: Workload) -> Json:
    """The pod the controller of ``origin`` creates."""
    if origin.kind == DAEMONSET:
        return daemonset_pod(origin.obj)
    return operator_pod(origin.obj)


def judge_created(
    mutator: Mutator, origins: Iterable[Workload], loc: Locations, view: ClusterView
) -> list[Created]:
    """Each origin whose pod a profile matches, with the webhook's verdict on that pod."""
    found = []
    for origin in origins:
        judged = judge(mutator, [Workload(POD, pod_of(origin))], loc, view, keep_managed=True)
        if judged:
            found.append(Created(origin, judged[0]))
    return found


def _where(origin: Workload) -> str:
    if origin.kind == DAEMONSET:
        return "spec.template.metadata.annotations"
    return f'spec.metadata.annotations."{POD_ANNOTATIONS}"'


def _unseen_annotations(origin: Workload, pod: Json) -> list[str]:
    """Our annotations on the workload itself that its pods do not carry."""
    own = (origin.obj.get("metadata") or {}).get("annotations") or {}
    seen = (pod.get("metadata") or {}).get("annotations") or {}
    return [k for k in OUR_ANNOTATIONS if k in own and seen.get(k) != own[k]]


def created_check(made: Created, profiles: Sequence[str]) -> Check:
    """``object:<ns>/<Kind>/<name>`` in pods-only mode: what its pods get at creation."""
    result, origin = made.pod.result, made.origin
    unseen = _unseen_annotations(origin, made.pod.workload.obj)
    if unseen:
        detail = (
            f"pods-only: {', '.join(unseen)} on the {origin.kind.kind} itself does not reach "
            f"its pods (their controller copies {_where(origin)})"
        )
        return Check(made.check_name, WARN, detail, f"move it to {_where(origin)}")
    if result.outcome == "mutated":
        detail = (
            f"pods-only: not mutated itself; each pod it creates gets profile {result.profile} "
            f"at creation ({len(result.ops)} patch operations)"
        )
        return Check(made.check_name, OK, detail)
    if result.reason == c.SKIP_ALREADY_INJECTED or (
        result.reason == c.SKIP_OPERATOR_MANAGED and not result.warnings
    ):
        detail = (
            f"pods-only: its pods carry profile {result.profile}'s settings from the "
            f"{origin.kind.kind} itself (see leftovers:)"
        )
        return Check(made.check_name, OK, detail)
    check = object_check(Judged(origin, result, origin.obj), profiles)
    return Check(made.check_name, check.status, f"pods-only: its pods: {check.detail}", check.fix)


TLS_NAMES: Final = frozenset({c.TLS_VOLUME_NAME, RENDERED_TLS_VOLUME})
"""Our TLS volume, under our name (a DaemonSet's) or the operator's (a StorageCluster's)."""


def _portworx_spec(obj: Json) -> tuple[Json, Json]:
    """The pod spec and portworx container of a pod (empty when absent)."""
    spec: Json = obj.get("spec") or {}
    containers = [x for x in spec.get("containers") or [] if isinstance(x, dict)]
    container: Json = next((x for x in containers if x.get("name") == c.PORTWORX_CONTAINER), {})
    return spec, container


def _tls_volumes(spec: Json) -> list[Json]:
    """Our TLS volumes of a pod spec, each under our name."""
    return [
        {**v, "name": c.TLS_VOLUME_NAME}
        for v in spec.get("volumes") or []
        if isinstance(v, dict) and v.get("name") in TLS_NAMES
    ]


def _without_ours(pod: Json) -> Json:
    """``pod`` without what the webhook adds (VAULT_* env of the portworx container, our TLS
    volume and its mounts): what git would hold if it held none of it."""
    bare = copy.deepcopy(pod)
    spec, container = _portworx_spec(bare)
    if container:
        container["env"] = [e for e in container.get("env") or [] if not _ours(e)]
        mounts = container.get("volumeMounts") or []
        container["volumeMounts"] = [m for m in mounts if m.get("name") not in TLS_NAMES]
    volumes = spec.get("volumes") or []
    spec["volumes"] = [v for v in volumes if v.get("name") not in TLS_NAMES]
    return bare


def _ours(entry: Any) -> bool:
    name = entry.get("name") if isinstance(entry, dict) else None
    return isinstance(name, str) and name.startswith("VAULT_")


def _copies(made: Created, mutator: Mutator, loc: Locations, view: ClusterView) -> list[str]:
    """What the origin's pod already holds that the webhook, given a pod without any of it,
    adds exactly so: the copies in git of what pods-only mode adds itself."""
    pod = made.pod.workload.obj
    judged = judge(mutator, [Workload(POD, _without_ours(pod))], loc, view)
    if not judged or judged[0].result.outcome != "mutated":
        return []
    wanted_spec, wanted = _portworx_spec(judged[0].mutated)
    have_spec, have = _portworx_spec(pod)
    have_env = {e.get("name"): e for e in have.get("env") or [] if isinstance(e, dict)}
    names = [
        str(e["name"])
        for e in wanted.get("env") or []
        if _ours(e) and have_env.get(e.get("name")) == e
    ]
    found = []
    if names:
        shown = ", ".join(names[:MAX_NAMED]) + (", ..." if len(names) > MAX_NAMED else "")
        found.append(f"env {shown}")
    tls = _tls_volumes(wanted_spec)
    if tls and tls[0] in _tls_volumes(have_spec):
        found.append(f"volume {c.TLS_VOLUME_NAME}")
    return found


def leftovers_check(
    made: Created, mutator: Mutator, loc: Locations, view: ClusterView
) -> Check | None:
    """``leftovers:<ns>/<Kind>/<name>``: what a workload of pods-only mode holds twice."""
    origin = made.origin
    found = _copies(made, mutator, loc, view)
    annotations = (origin.obj.get("metadata") or {}).get("annotations") or {}
    if annotations.get(c.ANNOTATION_STATUS) == c.STATUS_INJECTED:
        found.append(f"the mark {c.ANNOTATION_STATUS}: {c.STATUS_INJECTED}")
    if not found:
        return None
    kind = origin.kind.kind
    detail = (
        f"pods-only, but the {kind} holds what the webhook adds to its pods itself: "
        f"{'; '.join(found)} (a mutated copy in git, or left from the default mode: the "
        "webhook's entries belong to no field manager, so a re-apply keeps them); its pods "
        "keep these copies when the profile changes"
    )
    what = "spec.template" if origin.kind == DAEMONSET else "spec"
    fix = (
        f"remove them from the {kind}'s {what} in git, then replace the live object with git's "
        f"(kubectl replace -f <file>; Argo CD: the Replace=true sync option, once)"
    )
    return Check(f"leftovers:{origin.namespace}/{kind}/{origin.name}", WARN, detail, fix)


def created_checks(
    made: Sequence[Created],
    mutator: Mutator,
    loc: Locations,
    view: ClusterView,
    profiles: Sequence[str],
) -> list[Check]:
    """For each workload of pods-only mode: its ``object:`` check, then any ``leftovers:``."""
    checks: list[Check] = []
    for m in made:
        checks.append(created_check(m, profiles))
        leftover = leftovers_check(m, mutator, loc, view)
        if leftover is not None:
            checks.append(leftover)
    return checks


def consumers(made: Iterable[Created]) -> list[Consumer]:
    """The Vault clients of the pods of pods-only mode, each named after its DaemonSet or
    StorageCluster (as the default mode names them), with the settings of the pod."""
    return [
        dataclasses.replace(consumer, workload=m.origin)
        for m in made
        for consumer in workloads.consumers([m.pod])
    ]
