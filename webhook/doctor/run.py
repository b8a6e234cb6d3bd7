"""One doctor run: read the cluster, judge it with the webhook's own code, check Vault if asked.

The order is the report's: the webhook's own objects (can the API server call it and trust it)
and the mode of its configuration (in pods-only mode DaemonSets and StorageClusters are judged
through the pods their controllers create), the profiles it runs with, the namespaces (opted in
or not), and for each namespace that is checked its Secrets and the objects the webhook would
mutate; with ``--vault`` then every Vault client's connection. `assemble` is the pure part;
`doctor` does the reads around it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from vsi_common import kube
from vsi_common.report import OK, Check
from webhook.core.config import load_config
from webhook.core.mutation import build_mutator
from webhook.core.profiles import Config
from webhook.doctor import install, modes, namespaces, portworx, workloads
from webhook.doctor.cluster import Cluster, read_cluster
from webhook.doctor.consumers import Consumer
from webhook.doctor.state import ClusterState, Failed, Locations, unread_check
from webhook.doctor.vault import vault_checks
from webhook.errors import UsageError


@dataclass(frozen=True)
class DoctorSettings:
    """What ``vsi-webhook doctor`` was asked to check (validated by `webhook.commands.doctor`)."""

    locations: Locations
    """Where the webhook's objects are."""
    namespaces: tuple[str, ...] = ()
    """``-n``: only these namespaces (each reported, opted in or not); empty: every namespace."""
    config_path: str | None = None
    """``--config``: check with this profiles file instead of the webhook's ConfigMap."""
    vault: bool = False
    """``--vault``: also check every Vault client's connection."""
    deadline: float | None = None
    """``--deadline``: at most this many seconds per connection check (default: its own)."""
    kubeconfig: str | None = None
    """``--kubeconfig``; None: in a pod its service account, else KUBECONFIG or ~/.kube/config."""
    context: str | None = None
    """``--context``."""


def assemble(
    state: ClusterState, config: Config, profiles_check: Check, now: dt.datetime
) -> tuple[list[Check], list[Consumer]]:
    """The cluster checks in report order, and the Vault clients found on the way."""
    loc = state.locations
    checks = install.install_checks(state.install, loc, now)
    mode = modes.mode_of(state.install.webhook_config)
    checks += [c for c in [modes.mode_check(mode, loc)] if c is not None]
    checks.append(profiles_check)
    view = namespaces.view_of(state)
    mutator = build_mutator(config)
    own, through_pods = modes.split(state.workloads, mode)
    judged = workloads.judge(mutator, own, loc, view)
    groups = workloads.by_namespace(judged)
    made = modes.judge_created(mutator, through_pods, loc, view)
    listed = () if isinstance(state.namespaces, Failed) else state.namespaces
    if isinstance(state.namespaces, Failed) and state.requested:
        # -n names them: each is one warning naming the get it needs, not the list advice.
        checks += [
            unread_check(f"namespace:{name}", state.namespaces, "get on namespaces")
            for name in state.requested
        ]
    elif not any(n.requested for n in listed):
        checks.append(namespaces.opted_in_check(state))
    checked = {n.name for n in state.checked_namespaces()}
    names = [p.name for p in config.profiles]
    found: list[Consumer] = []
    for info in listed:
        made_here = [m for m in made if m.origin.namespace == info.name]
        here = groups.get(info.name, [])
        with_pods = here + [m.pod for m in made_here]  # pods-only: what their pods would get
        heading = namespaces.namespace_check(info, state, with_pods)
        if heading is not None:
            checks.append(heading)
        if info.name not in checked:
            continue
        checks += namespaces.secret_checks(config, info.name, view, with_pods)
        checks += workloads.objects_checks(info.name, here, state.unlisted, names)
        checks += portworx.layout_checks(here, config, view)
        checks += modes.created_checks(made_here, mutator, loc, view, names)
        found += workloads.consumers(here) + modes.consumers(made_here)
    return checks, found


def _config(path: str) -> tuple[Config, Check]:
    config = load_config(path)  # a bad --config file is bad usage: exit 2, before any call
    shown = ", ".join(f"{p.name} ({p.type})" for p in config.profiles)
    return config, Check("profiles", OK, f"from {path} (--config): {shown}")


async def doctor(settings: DoctorSettings, now: dt.datetime | None = None) -> list[Check]:
    """Every check, in report order. Raises `UsageError` for a bad --config or kubeconfig and
    `webhook.doctor.cluster.DoctorAbort` when the API server cannot be used at all."""
    given = _config(settings.config_path) if settings.config_path else None
    try:
        client = await kube.load_client(settings.kubeconfig, settings.context)
    except kube.KubeConfigError as exc:
        raise UsageError(str(exc)) from None
    loc = settings.locations
    async with client:
        cluster = Cluster(client)
        install_state, listed, found, unlisted = await read_cluster(
            cluster, loc, settings.namespaces, read_config_map=given is None
        )
        config, profiles_check = given or install.profiles(install_state.config_map, loc)
        requested = tuple(settings.namespaces)
        state = ClusterState(loc, install_state, listed, found, unlisted, {}, requested)
        wanted = [
            (info.name, secret)
            for info in state.checked_namespaces()
            for secret in sorted(config.secret_names)
        ]
        checked = [n.name for n in state.checked_namespaces()]
        portworx_reads = portworx.secrets_to_read(
            (w for w in found if w.namespace in checked), config
        )
        wanted += sorted(portworx_reads - set(wanted))
        secrets = await cluster.secrets(wanted)
        state = ClusterState(loc, install_state, listed, found, unlisted, secrets, requested)
        checks, consumers = assemble(state, config, profiles_check, now or dt.datetime.now(dt.UTC))
        if settings.vault:
            checks += await _vault(cluster, consumers, state, settings.deadline)
    return checks


async def _vault(
    cluster: Cluster, consumers: Sequence[Consumer], state: ClusterState, deadline: float | None
) -> list[Check]:
    if not consumers:
        detail = "--vault: no object here carries a profile's settings, so no connection to check"
        return [Check("vault-setup", OK, detail)]
    return await vault_checks(cluster, consumers, state.secrets, deadline)
