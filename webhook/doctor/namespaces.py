"""Namespaces: which opted in, and whether the Secrets of the profiles used there are complete.

The Secret checks ask the webhook's own question (`webhook.core.warnings.secret_warnings`: the
connection Secret's VAULT_ADDR and the keys of its auth method, the token Secret's ``token``, the
TLS files of the profile's shape) through a `webhook.core.model.ClusterView` made of what the
doctor read, so the doctor and an admission warning cannot disagree. A profile "applies" in a
namespace when the webhook chose it for an object there, or when its own Secret (the connection
or token Secret: a TLS Secret is often shared) exists there, as an admin sets it up; the others
are not reported. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from vsi_common.report import FAIL, OK, WARN, Check
from webhook.core import constants as c
from webhook.core.model import SecretInfo
from webhook.core.profiles import Config, Profile
from webhook.core.rules import px
from webhook.core.warnings import secret_warnings
from webhook.doctor.state import ClusterState, Failed, NamespaceInfo, SecretData, unread_check
from webhook.doctor.workloads import INJECTED_REASONS, Judged, profiles_used

NOT_FOUND: Final = re.compile(r"^Secret (\S+) not found in namespace ")
"""How `secret_warnings` says a Secret is missing (a unit test holds it to that function)."""
NO_KEY: Final = re.compile(r"^Secret (\S+) in namespace \S+ has no key (\S+)")
"""How `secret_warnings` says a Secret lacks a key."""
HALF_PAIR: Final = "the client certificate is not used"
"""How `secret_warnings` ends for half a client pair: the connection still works without it."""
INSTALL_SECRETS: Final = "docs/install.md, 2. Connection Secrets"
"""Where the connection Secrets are explained."""
MAX_LISTED: Final = 3
"""Objects named in a namespace warning."""


@dataclass(frozen=True)
class DoctorView:
    """A `webhook.core.model.ClusterView` over what the doctor read.

    A Secret the doctor read answers with its key names, one it found missing with None, and one
    it did not (or could not) read with "unknown", exactly as the webhook's caches answer.
    """

    labels: Mapping[str, Mapping[str, str]]
    """Labels of every namespace the doctor read."""
    secrets: Mapping[tuple[str, str], SecretData | Failed | None]
    """The Secrets it read."""

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """The namespace's labels, or None when the doctor did not read it."""
        return self.labels.get(namespace)

    def secret(self, namespace: str, name: str) -> SecretInfo | Literal["unknown"] | None:
        """Key names of a Secret; None when it does not exist; "unknown" when not read."""
        key = (namespace, name)
        if key not in self.secrets:
            return "unknown"
        found = self.secrets[key]
        if isinstance(found, Failed):
            return "unknown"
        return None if found is None else SecretInfo(name, found.keys)


def view_of(state: ClusterState) -> DoctorView:
    """The view the mutator and the Secret checks share."""
    namespaces = () if isinstance(state.namespaces, Failed) else state.namespaces
    labels = {n.name: n.labels for n in namespaces if n.labels is not None}
    return DoctorView(labels, state.secrets)


def _label_fix(namespace: str, overwrite: bool) -> str:
    flag = " --overwrite" if overwrite else ""
    return f"kubectl label namespace {namespace} {c.LABEL_ENABLED}={c.ENABLED_VALUE}{flag}"


def opted_in_check(state: ClusterState) -> Check:
    """``namespaces``: which namespaces opted in (without ``-n``)."""
    if isinstance(state.namespaces, Failed):
        also = ", or name the namespaces with -n"
        return unread_check("namespaces", state.namespaces, "list on namespaces", also)
    opted = [n.name for n in state.namespaces if n.opted_in and n.name != state.locations.namespace]
    if not opted:
        detail = f"no namespace carries {c.LABEL_ENABLED}={c.ENABLED_VALUE}: nothing is injected"
        return Check("namespaces", WARN, detail, _label_fix("<namespace>", False))
    return Check("namespaces", OK, f"opted in: {', '.join(opted)}")


def _injectable(judged: Sequence[Judged]) -> list[str]:
    return [
        f"{j.workload.kind.kind}/{j.workload.name}"
        for j in judged
        if j.result.reason in INJECTED_REASONS
    ]


def namespace_check(
    info: NamespaceInfo, state: ClusterState, judged: Sequence[Judged]
) -> Check | None:
    """``namespace:<ns>``: opted in or not, for a namespace named with ``-n`` or one that holds
    objects a profile matches; None for a namespace with nothing to say."""
    name = f"namespace:{info.name}"
    found = _injectable(judged)
    listed = ", ".join(found[:MAX_LISTED]) + (" ..." if len(found) > MAX_LISTED else "")
    value = (info.labels or {}).get(c.LABEL_ENABLED)
    if info.labels is None:
        return Check(name, FAIL, f"namespace {info.name} not found", "check -n")
    if info.name == state.locations.namespace:
        if not info.requested:
            return None
        detail = f"{info.name} is the webhook's own namespace: the webhook never mutates it"
        return Check(name, FAIL, detail, "run the storage system in a namespace of its own")
    if info.opted_in:
        return Check(name, OK, f"opted in ({c.LABEL_ENABLED}={c.ENABLED_VALUE})")
    label = f"label {c.LABEL_ENABLED}={value!r}" if value is not None else "no opt-in label"
    if info.requested:
        what = (
            f": {len(found)} objects a profile matches are left alone ({listed})" if found else ""
        )
        detail = (
            f"{info.name} has {label}: the API server does not call the webhook for its "
            f"objects{what}"
        )
        return Check(name, FAIL, detail, _label_fix(info.name, value is not None))
    if not found:
        return None
    detail = (
        f"{info.name} has {label}, but holds {len(found)} objects a profile matches ({listed}): "
        "the webhook leaves them alone"
    )
    return Check(name, WARN, detail, _label_fix(info.name, value is not None))


def _secret_fix(namespace: str, warnings: Sequence[str]) -> str:
    """What to do about `secret_warnings`: create the Secrets named, add the keys named."""
    missing: list[str] = []
    keys: dict[str, list[str]] = {}
    for warning in warnings:
        if found := NOT_FOUND.match(warning):
            missing.append(found.group(1))
        elif found := NO_KEY.match(warning):
            keys.setdefault(found.group(1), []).append(found.group(2))
    steps = [f"create the Secret {s} in namespace {namespace} ({INSTALL_SECRETS})" for s in missing]
    steps += [
        f"add {', '.join(k)} to the Secret {s}: kubectl -n {namespace} edit secret {s}"
        for s, k in keys.items()
    ]
    return "; ".join(steps) or f"complete the Secrets named ({INSTALL_SECRETS})"


def _complete(profile: Profile, namespace: str, view: DoctorView, skip: str | None) -> str:
    """``rook-vault (VAULT_ADDR, VAULT_AUTH_METHOD)``: the Secrets and the key names they hold
    (but ``skip``, a px-vault Portworx reads elsewhere)."""
    shown = []
    for secret in sorted(profile.connection.secret_names - {skip}):
        info = view.secret(namespace, secret)
        keys = ", ".join(sorted(info.keys)) if isinstance(info, SecretInfo) else "not read"
        shown.append(f"{secret} ({keys})")
    return "; ".join(shown) or "no Secret"


def _read_elsewhere(profile: Profile, namespace: str, judged: Sequence[Judged]) -> bool:
    """Whether every object here that uses ``profile`` has Portworx read its px-vault itself in
    another namespace (`webhook.core.rules.px`): the ``portworx-secret:`` checks look there."""
    users = [j.workload.obj for j in judged if j.result.profile == profile.name]
    found = [px.where_portworx_reads(obj, profile.connection, namespace) for obj in users]
    return bool(users) and all(f is not None and f[0].namespace != namespace for f in found)


def _profile_secrets(
    profile: Profile, namespace: str, view: DoctorView, used: bool, elsewhere: bool = False
) -> Check | None:
    """``secrets:<ns>/<profile>``, or None when the profile does not apply in the namespace;
    ``elsewhere``: its px-vault is read in another namespace, and not looked for here."""
    name = f"secrets:{namespace}/{profile.name}"
    conn = profile.connection
    skip = conn.secret if elsewhere else None
    refs = sorted(conn.secret_names - {skip})
    own = [s for s in (conn.secret, conn.token_secret) if s and s != skip]
    present = [s for s in own if isinstance(view.secret(namespace, s), SecretInfo)]
    unread = [s for s in refs if isinstance(view.secrets.get((namespace, s)), Failed)]
    if not used and not present and not (unread and set(unread) & set(own)):
        return None
    if unread:
        detail = f"not checked: cannot read Secrets {', '.join(unread)} in {namespace}"
        fix = (
            f"give the doctor's service account get on secrets in {namespace} "
            "(docs/doctor.md, RBAC)"
        )
        return Check(name, WARN, detail, fix)
    warnings = secret_warnings(profile, namespace, view, "" if elsewhere else None)
    if not warnings:
        shown = _complete(profile, namespace, view, skip)
        if skip:
            shown += f" (its {skip} is checked where Portworx reads it)"
        return Check(name, OK, f"profile {profile.name} has what it needs: {shown}")
    harmless = all(w.endswith(HALF_PAIR) for w in warnings)
    status = WARN if harmless or not used else FAIL
    why = "" if used else " (no object uses the profile here yet)"
    detail = "; ".join(warnings) + why
    return Check(name, status, detail, _secret_fix(namespace, warnings))


def secret_checks(
    config: Config, namespace: str, view: DoctorView, judged: Sequence[Judged]
) -> list[Check]:
    """``secrets:<ns>/<profile>`` for every profile that applies in ``namespace``.

    Profiles an object uses come first. A profile no object uses is left out when its Secrets are
    already checked for another one (the built-in ``rook-osd`` and ``rook-kms`` share
    ``rook-vault``): the same Secret is reported once.
    """
    used = profiles_used(judged)
    found: list[Check] = []
    checked: set[str] = set()
    for profile in sorted(config.profiles, key=lambda p: p.name not in used):
        is_used = profile.name in used
        secrets = profile.connection.secret_names
        if not is_used and secrets and secrets <= checked:
            continue
        elsewhere = is_used and _read_elsewhere(profile, namespace, judged)
        check = _profile_secrets(profile, namespace, view, is_used, elsewhere)
        if check is not None:
            found.append(check)
            checked |= secrets
    if found:
        return found
    detail = "no profile applies here yet (no object a profile matches, none of their Secrets)"
    return [Check(f"secrets:{namespace}", OK, detail)]
