"""Install the webhook's certificates in the cluster, and rotate them, with one idempotent command.

The kube-apiserver trusts the webhook through the ``caBundle`` of every entry of its
MutatingWebhookConfiguration, and the webhook pods serve the leaf from the serving Secret. This
module is the flow: read the configuration and the two Secrets (`certs.kube`), let `certs.plan`
(pure) decide what they and the bundle must hold, and write only what differs, in the order that
keeps every admission request verifiable: the bundle (old and new CA) first, then the CA Secret
(the CA key, so that the next run signs a new leaf without replacing the CA), then the serving
Secret with the leaf signed by that CA. Both Secrets come from the manifests, without data:
bootstrap never creates one (its RBAC may update those two by name and create nothing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from certs.errors import CertsError, InvalidInput
from certs.kube import BootstrapApi, Retry
from certs.pki import CA_KEY_FILE
from certs.plan import (
    CA_SECRET_KEYS,
    TLS_SECRET_KEYS,
    BootstrapSettings,
    CertPlan,
    combined,
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
    """Whether the serving Secret was updated."""
    ca_secret_written: bool
    """Whether the CA Secret was updated."""
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
    tls_secret = await _read(api, settings, settings.secret)
    ca_secret = await _read(api, settings, settings.ca_secret)
    tls = existing_data(tls_secret, settings.secret, settings.namespace)
    ca = existing_data(ca_secret, settings.ca_secret, settings.namespace)
    plan = plan_certificates(combined(tls, ca), settings, now=now)
    patched = with_ca_bundle(config, plan.bundle)
    entries = 0
    if patched is not None:
        body, entries = patched
        await api.replace_webhook(settings.webhook_config, body)
    wanted_ca = {k: plan.data[k] for k in CA_SECRET_KEYS}
    ca_changed = secret_needs_write(ca, wanted_ca)
    if ca_changed:
        await api.write_secret(
            settings.namespace, settings.ca_secret, secret_body(ca_secret, wanted_ca)
        )
    wanted_tls = {k: plan.data[k] for k in TLS_SECRET_KEYS}
    # An older installation kept the CA key in the serving Secret: it leaves it now.
    tls_changed = secret_needs_write(tls, wanted_tls, dropped=(CA_KEY_FILE,))
    if tls_changed:
        body = secret_body(tls_secret, wanted_tls, dropped=(CA_KEY_FILE,))
        await api.write_secret(settings.namespace, settings.secret, body)
    return BootstrapResult(
        plan=plan, secret_written=tls_changed, ca_secret_written=ca_changed, entries_patched=entries
    )


async def _read(api: BootstrapApi, settings: BootstrapSettings, name: str) -> dict[str, Any]:
    """One of the two Secrets; a missing one is a `CertsError` that says where it comes from."""
    found = await api.read_secret(settings.namespace, name)
    if found is None:
        raise CertsError(
            f"secrets/{name} not found in namespace {settings.namespace}: apply the manifests "
            "first (they ship it without data; vsi-certs creates no Secret)"
        )
    return found


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
    ca_secret = "written" if result.ca_secret_written else "unchanged"
    webhook = (
        f"caBundle written to {result.entries_patched} webhook entr"
        f"{'y' if result.entries_patched == 1 else 'ies'}"
        if result.entries_patched
        else "caBundle unchanged"
    )
    return (
        f"CA {ca} (expires {plan.ca_not_after:%Y-%m-%d}, bundle of {plan.bundle_size}), "
        f"serving certificate {leaf} (expires {plan.leaf_not_after:%Y-%m-%d}); "
        f"secrets/{settings.ca_secret} {ca_secret}, secrets/{settings.secret} {secret} "
        f"in namespace {settings.namespace}; "
        f"mutatingwebhookconfigurations/{settings.webhook_config}: {webhook}"
    )
