"""Install the webhook's certificates in the cluster, and rotate them, with one idempotent command.

The kube-apiserver trusts the webhook through the ``caBundle`` of every entry of its
MutatingWebhookConfiguration, and the webhook pods serve the leaf from a ``kubernetes.io/tls``
Secret. This module is the flow: read both objects (`certs.kube`), let `certs.plan` (pure) decide
what the Secret and the bundle must hold, and write only what differs, in the order that keeps
every admission request verifiable: the bundle (old and new CA) first, then the Secret with the
leaf signed by the new CA. The Secret also keeps the CA key (``ca.key``) so that the next run can
sign a new leaf without replacing the CA.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certs.errors import CertsError, InvalidInput
from certs.kube import BootstrapApi, Retry
from certs.plan import (
    BootstrapSettings,
    CertPlan,
    existing_data,
    plan_certificates,
    secret_body,
    secret_needs_write,
    with_ca_bundle,
)
from vsi_common import kube

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

# kubernetes_asyncio (about 2 s to import) and aiohttp are imported where they are used, so that
# `vsi-certs generate`, which registers this subcommand too, does not pay for them.

MAX_ATTEMPTS = 5
"""How many times a read-modify-write is tried when another writer wins the race (409 Conflict)."""


@dataclass(frozen=True)
class BootstrapResult:
    """What one run did, for the one-line summary."""

    plan: CertPlan
    """What the Secret now holds and what was renewed."""
    secret_written: bool
    """Whether the Secret was created or replaced."""
    entries_patched: int
    """Webhook entries whose caBundle was written."""


async def bootstrap(
    client: ApiClient, settings: BootstrapSettings, *, now: dt.datetime | None = None
) -> BootstrapResult:
    """Make the Secret and every caBundle of the webhook configuration right; write only changes.

    Order: read both objects; write the caBundle first (so the apiserver trusts a new CA before any
    pod serves a leaf signed by it), then the Secret. A 409 Conflict on either write starts over
    from the reads, at most `MAX_ATTEMPTS` times.
    """
    api = BootstrapApi(client)
    for _ in range(MAX_ATTEMPTS):
        when = now or dt.datetime.now(dt.UTC)
        try:
            return await _reconcile(api, settings, when)
        except Retry:
            continue
    raise CertsError(
        f"gave up after {MAX_ATTEMPTS} attempts: secrets/{settings.secret} or "
        f"mutatingwebhookconfigurations/{settings.webhook_config} kept changing under us"
    )


async def _reconcile(
    api: BootstrapApi, settings: BootstrapSettings, now: dt.datetime
) -> BootstrapResult:
    config = await api.read_webhook(settings.webhook_config)
    secret = await api.read_secret(settings.namespace, settings.secret)
    current = existing_data(secret, settings)
    plan = plan_certificates(current, settings, now=now)
    patched = with_ca_bundle(config, plan.bundle)
    entries = 0
    if patched is not None:
        body, entries = patched
        await api.replace_webhook(settings.webhook_config, body)
    secret_changed = secret_needs_write(current, plan)
    if secret_changed:
        await api.write_secret(
            settings.namespace, settings.secret, secret_body(secret, settings, plan.data)
        )
    return BootstrapResult(plan=plan, secret_written=secret_changed, entries_patched=entries)


async def load_client(kubeconfig: str | None = None, context: str | None = None) -> ApiClient:
    """`vsi_common.kube.load_client`; a bad option is `InvalidInput`, the rest `CertsError`."""
    try:
        return await kube.load_client(kubeconfig, context)
    except kube.KubeConfigError as exc:
        if exc.option is not None:
            raise InvalidInput(f"{exc.option}: {exc}") from None
        raise CertsError(str(exc)) from None


async def run(
    settings: BootstrapSettings,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    now: dt.datetime | None = None,
) -> BootstrapResult:
    """Connect as `load_client` says, then `bootstrap`."""
    client = await load_client(kubeconfig, context)
    async with client:
        return await bootstrap(client, settings, now=now)


def describe(result: BootstrapResult, settings: BootstrapSettings) -> str:
    """The one-line summary the CLI prints."""
    plan = result.plan
    ca = "renewed" if plan.ca_renewed else "kept"
    leaf = "renewed" if plan.leaf_renewed else "kept"
    secret = "written" if result.secret_written else "unchanged"
    webhook = (
        f"caBundle written to {result.entries_patched} webhook entr"
        f"{'y' if result.entries_patched == 1 else 'ies'}"
        if result.entries_patched
        else "caBundle unchanged"
    )
    return (
        f"CA {ca} (expires {plan.ca_not_after:%Y-%m-%d}, bundle of {plan.bundle_size}), "
        f"serving certificate {leaf} (expires {plan.leaf_not_after:%Y-%m-%d}); "
        f"secrets/{settings.secret} in namespace {settings.namespace} {secret}; "
        f"mutatingwebhookconfigurations/{settings.webhook_config}: {webhook}"
    )
