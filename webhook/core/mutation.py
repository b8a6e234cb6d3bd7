"""The mutation: object + admission context -> JSON Patch operations (pure, fast, idempotent).

`build_mutator` compiles a `Config` once (per-profile env lists, volumes, container templates, for
each shape the TLS files can have) and returns the callable that the HTTPS server and the offline
preview share. Per request it gates the object (operation, namespace opt-in, mirror pods,
opt-out), finds the profile types whose rule applies (`webhook.core.registry`), picks the profile
(the annotation's, else the first configured one of a matching type), looks up the shape of its
TLS files in the Secret cache, lets that type's rule plan the ops, and marks the object injected.
Ops are emitted directly (no deep copy, no diff); values that depend only on the profile are
shared between requests and must not be mutated by callers. Everything already present (by name)
is left alone, so a second pass is empty.

The object arrives before schema validation, so nothing here trusts its shape: a list or map the
patch would have to extend but that holds something else skips the object (``malformed``) rather
than overwrite it; a volume, mount path or label that would make the injection unsafe skips it as
``conflict``; both say why in a warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from webhook.core import constants as c
from webhook.core import patch
from webhook.core.compiled import CompiledProfile, compile_profile
from webhook.core.model import AdmissionContext, MutationResult, Mutator
from webhook.core.profiles import Config, Profile
from webhook.core.registry import BY_KIND, RULES, rule_for
from webhook.core.rules.base import UNCHANGED, MalformedError, Rule, Subject, subject_of
from webhook.core.shapes import as_map, is_map, is_map_or_none
from webhook.core.warnings import secret_warnings

MUTATING_OPERATIONS: Final = frozenset({"CREATE", "UPDATE"})
"""Operations whose object may be mutated."""
_STATUS: Final[Sequence[tuple[str, Any]]] = ((c.ANNOTATION_STATUS, c.STATUS_INJECTED),)


def build_mutator(config: Config) -> Mutator:
    """The mutator for ``config``: pure, deterministic and safe to call from many tasks.

    Raises `webhook.errors.ConfigError` when a profile's type has no rule.
    """
    return _Mutator(config)


class _Mutator:
    def __init__(self, config: Config) -> None:
        self._config = config
        self._compiled: dict[str, tuple[CompiledProfile, Rule]] = {
            p.name: (compile_profile(p), rule_for(p.type)) for p in config.profiles
        }

    def __call__(self, obj: Mapping[str, Any], ctx: AdmissionContext) -> MutationResult:
        gated = _gate(obj, ctx)
        if isinstance(gated, MutationResult):
            return gated
        subject, namespace = gated
        candidates = {
            rule.type: handled
            for rule in BY_KIND.get((subject.group, subject.kind), ())
            if (handled := rule.applies(subject)) is not None
        }
        labels = ctx.cluster.namespace_labels(namespace) if ctx.cluster and namespace else None
        chosen = self._choose(subject, candidates, namespace, labels)
        if isinstance(chosen, MutationResult):
            return chosen
        compiled, rule = chosen
        name = compiled.profile.name
        if not candidates[rule.type]:
            return _skipped(c.SKIP_OPERATION, (), name)
        raw_meta = obj.get("metadata")
        if raw_meta is not None and not (
            is_map(raw_meta) and is_map_or_none(raw_meta.get("annotations"))
        ):
            what = "metadata" if not is_map(raw_meta) else "metadata.annotations"
            return _skipped(c.SKIP_MALFORMED, [f"{what} is not a mapping; {UNCHANGED}"], name)
        try:
            plan = rule.plan(compiled.fragments(namespace, ctx.cluster), subject, self._config)
        except MalformedError as exc:
            return _skipped(c.SKIP_MALFORMED, [f"{exc.pointer} is not a list; {UNCHANGED}"], name)
        if plan.skip is not None:
            return _skipped(plan.skip, plan.warnings, name)
        warnings = plan.warnings + secret_warnings(
            compiled.profile, namespace, ctx.cluster, plan.secret_namespace
        )
        if not plan.ops:
            return _skipped(c.SKIP_ALREADY_INJECTED, warnings, name)
        insecure = compiled.insecure
        if insecure is not None:
            warnings = [*warnings, c.INSECURE_WARNING.format(profile=name, setting=insecure)]
        ops = plan.ops
        if raw_meta is None:
            ops.append(patch.add("/metadata", {"annotations": dict(_STATUS)}))
        else:
            ops.extend(patch.set_map_entries(as_map(raw_meta), "annotations", "/metadata", _STATUS))
        return MutationResult(
            outcome="mutated",
            reason=c.REASON_INJECTED,
            ops=ops,
            warnings=tuple(_short(w) for w in warnings),
            profile=name,
            insecure=insecure,
        )

    def _choose(
        self,
        subject: Subject,
        candidates: Mapping[str, bool],
        namespace: str,
        labels: Mapping[str, str] | None,
    ) -> tuple[CompiledProfile, Rule] | MutationResult:
        """The annotation's profile when it applies and serves the namespace (else the object is
        left alone, saying why), else the first configured one that applies and serves it: one
        that does not serve it is passed over, and said only when no other serves it."""
        requested = subject.annotations.get(c.ANNOTATION_PROFILE)
        if isinstance(requested, str) and requested:
            chosen = self._compiled.get(requested)
            if chosen is None:
                warning = f"profile {requested!r} is not configured; {UNCHANGED}"
                return _skipped(c.SKIP_UNKNOWN_PROFILE, [warning])
            if chosen[1].type not in candidates:
                warning = (
                    f"profile {requested!r} ({chosen[1].type}) does not apply to this "
                    f"{subject.kind}; {UNCHANGED}"
                )
                return _skipped(c.SKIP_NO_PROFILE, [warning], requested)
            if not chosen[0].profile.serves(namespace, labels):
                return _not_served(chosen[0].profile, namespace, labels)
            return chosen
        passed_over: Profile | None = None
        for chosen in self._compiled.values():
            if chosen[1].type in candidates:
                if chosen[0].profile.serves(namespace, labels):
                    return chosen
                passed_over = passed_over or chosen[0].profile
        if passed_over is not None:
            return _not_served(passed_over, namespace, labels)
        for rule_type, handled in candidates.items():
            unconfigured = RULES[rule_type].unconfigured
            said = unconfigured(subject) if handled and unconfigured is not None else None
            if said is not None and said.skip is not None:
                return _skipped(said.skip, said.warnings)
        return _why_no_profile(subject)


def _why_no_profile(subject: Subject) -> MutationResult:
    """Why no configured profile applies, one reason code each (metrics, log and preview)."""
    if not BY_KIND.get((subject.group, subject.kind)):
        return _skipped(c.SKIP_KIND_NOT_HANDLED)
    inject = subject.annotations.get(c.ANNOTATION_INJECT)
    if inject is not None and inject not in (c.INJECT_TRUE, c.INJECT_FALSE):
        warning = f'{c.ANNOTATION_INJECT}: {inject!r} is neither "true" nor "false"; {UNCHANGED}'
        return _skipped(c.SKIP_ANNOTATION_VALUE, [warning])
    if inject == c.INJECT_TRUE and subject.kind == "Pod":
        volumes = subject.spec.get("volumes")
        claims = (
            [v for v in volumes or () if is_map(v) and is_map(v.get("persistentVolumeClaim"))]
            if isinstance(volumes, list)
            else []
        )
        if not claims:
            warning = f'{c.ANNOTATION_INJECT}: "true" but the pod has no PVC volume; {UNCHANGED}'
            return _skipped(c.SKIP_NO_PVC_VOLUMES, [warning])
    return _skipped(c.SKIP_NO_PROFILE)


def _gate(obj: Mapping[str, Any], ctx: AdmissionContext) -> tuple[Subject, str] | MutationResult:
    """The request's subject and namespace, or why the object is not looked at any further."""
    if ctx.operation not in MUTATING_OPERATIONS:
        return _skipped(c.SKIP_OPERATION)
    if not is_map(obj) or not obj:
        return _skipped(c.SKIP_NO_OBJECT)
    meta = as_map(obj.get("metadata"))
    namespace = ctx.namespace or str(meta.get("namespace") or "")
    if ctx.webhook_namespace and namespace == ctx.webhook_namespace:
        return _skipped(c.SKIP_WEBHOOK_NAMESPACE)
    if not ctx.assume_namespace_enabled and ctx.cluster is not None and namespace:
        labels = ctx.cluster.namespace_labels(namespace)
        if labels is not None and labels.get(c.LABEL_ENABLED) != c.ENABLED_VALUE:
            return _skipped(c.SKIP_NAMESPACE_NOT_ENABLED)
    kind = ctx.kind or str(obj.get("kind") or "")
    subject = subject_of(obj, kind, ctx.group, ctx.operation, meta, namespace, ctx.cluster)
    if kind == "Pod" and c.ANNOTATION_MIRROR_POD in subject.annotations:
        return _skipped(c.SKIP_MIRROR_POD)
    if subject.annotations.get(c.ANNOTATION_INJECT) == c.INJECT_FALSE:
        return _skipped(c.SKIP_OPTED_OUT)
    return subject, namespace


def _not_served(
    profile: Profile, namespace: str, labels: Mapping[str, str] | None
) -> MutationResult:
    """Skipped: ``profile`` does not serve ``namespace`` (or cannot tell: labels unknown)."""
    unknown = profile.serves(namespace, labels) is None
    why = f"labels of {namespace!r} unknown" if unknown else f"not {namespace!r}"
    warning = f"profile {profile.name!r} serves only {profile.bounds}, {why}; {UNCHANGED}"
    if len(warning) > c.MAX_WARNING_LENGTH:  # the bounds give way, never the verdict
        room = c.MAX_WARNING_LENGTH - len(warning) + len(str(profile.bounds)) - 3
        warning = warning.replace(str(profile.bounds), str(profile.bounds)[: max(room, 0)] + "...")
    return _skipped(c.SKIP_NAMESPACE_NOT_SERVED, [warning], profile.name)


def _short(text: str) -> str:
    if len(text) <= c.MAX_WARNING_LENGTH:
        return text
    return text[: c.MAX_WARNING_LENGTH - 3] + "..."


def _skipped(
    reason: str, warnings: Sequence[str] = (), profile: str | None = None
) -> MutationResult:
    return MutationResult(
        outcome="skipped",
        reason=reason,
        warnings=tuple(_short(w) for w in warnings),
        profile=profile,
    )
