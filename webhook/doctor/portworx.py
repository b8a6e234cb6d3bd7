"""Where Portworx reads its px-vault, checked: the Secret Portworx itself will read, not its env.

Portworx reads ``px-vault`` through the API, from ``PX_SECRETS_NAMESPACE``, else ``portworx`` for
a DaemonSet install, else the StorageCluster's namespace (`webhook.core.rules.px`, the same
function the webhook's rule asks, so the doctor and the mutation cannot disagree). When that is
not the object's own namespace, the ``secrets:`` check of the namespace does not see it, so each
Portworx object then gets a ``portworx-secret:`` check: the Secret there, the keys its auth method
needs (`webhook.core.warnings.secret_warnings`, asked of that namespace), and the grant
Portworx's service account needs. The doctor reads those Secrets too (`secrets_to_read`). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vsi_common.report import FAIL, OK, WARN, Check
from webhook.core import constants as c
from webhook.core.profiles import Config, Profile
from webhook.core.rules import px
from webhook.core.vault_readers import PORTWORX_TYPES
from webhook.core.warnings import secret_warnings
from webhook.doctor.namespaces import INSTALL_SECRETS, DoctorView
from webhook.doctor.state import Failed, Workload
from webhook.doctor.workloads import INJECTED_REASONS, Judged


def _portworx_profiles(config: Config) -> list[Profile]:
    return [
        p
        for p in config.profiles
        if p.type in PORTWORX_TYPES and p.connection.secret == c.DEFAULT_PX_SECRET
    ]


def secrets_to_read(workloads: Iterable[Workload], config: Config) -> set[tuple[str, str]]:
    """(namespace, px-vault) wherever a Portworx profile would make a listed object's Portworx
    read it outside the object's namespace (a superset: before the objects are judged, every
    Portworx profile is asked)."""
    found: set[tuple[str, str]] = set()
    for workload in workloads:
        for profile in _portworx_profiles(config):
            where = px.where_portworx_reads(workload.obj, profile.connection, workload.namespace)
            if where is not None and where[0].namespace not in ("", workload.namespace):
                found.add((where[0].namespace, c.DEFAULT_PX_SECRET))
    return found


def layout_checks(judged: Sequence[Judged], config: Config, view: DoctorView) -> list[Check]:
    """``portworx-secret:<ns>/<Kind>/<name>`` for every Portworx object that carries (or would
    carry) a profile whose px-vault Portworx reads outside the object's namespace."""
    checks = []
    for j in judged:
        profile = config.profile(j.result.profile or "")
        if j.result.reason not in INJECTED_REASONS or profile not in _portworx_profiles(config):
            continue
        assert profile is not None  # in the list above
        check = _layout(j, profile, view)
        if check is not None:
            checks.append(check)
    return checks


def _layout(j: Judged, profile: Profile, view: DoctorView) -> Check | None:
    w = j.workload
    name = f"portworx-secret:{w.namespace}/{w.kind.kind}/{w.name}"
    where = px.where_portworx_reads(w.obj, profile.connection, w.namespace)
    if where is None or where[0].namespace == w.namespace:
        return None  # in the object's namespace: the secrets: check of the namespace covers it
    lookup, account = where
    if not lookup.namespace:
        detail = (
            f"{c.PX_SECRETS_NAMESPACE_ENV} comes from a ConfigMap or Secret: where Portworx reads "
            f"{c.DEFAULT_PX_SECRET} cannot be told"
        )
        return Check(name, WARN, detail, "set connection.secretNamespace in the profile")
    ns, secret = lookup.namespace, c.DEFAULT_PX_SECRET
    grant = px.reads_itself(ns, account).split(": ", 1)[1]
    key = (ns, secret)
    if key not in view.secrets or isinstance(view.secrets[key], Failed):
        detail = f"Portworx reads {ns}/{secret} itself; not checked: cannot read Secrets in {ns}"
        fix = (
            f"give the doctor's service account get on secrets in {ns} "
            "(manifests/examples/doctor/namespace)"
        )
        return Check(name, WARN, detail, fix)
    found = view.secrets[key]
    if found is None or isinstance(found, Failed):
        detail = f"Portworx reads {ns}/{secret} itself, and it is not there; {grant}"
        fix = (
            f"kubectl -n {ns} create secret generic {secret} --from-env-file=px-vault.env "
            f"({INSTALL_SECRETS})"
        )
        return Check(name, FAIL, detail, fix)
    missing = secret_warnings(profile, w.namespace, view, ns)
    if missing:
        return Check(
            name,
            FAIL,
            f"Portworx reads {ns}/{secret} itself: " + "; ".join(missing),
            f"add the keys named: kubectl -n {ns} edit secret {secret}",
        )
    keys = ", ".join(sorted(found.keys))
    return Check(name, OK, f"Portworx reads {ns}/{secret} itself ({keys}); {grant}")
