"""Decide what the webhook's two Secrets and caBundle must hold: pure, with the clock injected.

`vsi-certs bootstrap` reads the serving Secret, the CA Secret and the MutatingWebhookConfiguration,
then asks this module what they hold together (`combined`), what to keep and what to renew
(`plan_certificates`), what goes in which Secret (`TLS_SECRET_KEYS`, `CA_SECRET_KEYS`), whether a
Secret needs a write (`secret_needs_write`) and what to send (`secret_body`, `with_ca_bundle`).
The CA key lives in the CA Secret alone: the webhook pods, the doctor and whoever may read the
serving Secret never see it. Both Secrets are made by the manifests, empty; bootstrap only
updates them. Nothing here talks to the API server or reads the clock: ``now`` is a parameter, so
every rotation rule has a table test. The flags are checked here too (`make_settings`), before
any request is made.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certs.errors import CertsError, InvalidInput
from certs.pki import (
    CA_CERT_FILE,
    CA_KEY_FILE,
    DEFAULT_CA_DAYS,
    DEFAULT_LEAF_DAYS,
    TLS_CERT_FILE,
    TLS_KEY_FILE,
    cert_pem,
    key_matches,
    key_pem,
    load_cert,
    load_certs,
    load_ec_key,
    make_ca,
    make_leaf,
    san_names,
    service_dns_names,
    signed_by,
)
from vsi_common import validation

DEFAULT_ROTATE_BEFORE_DAYS = 30
"""``--rotate-before``: a serving certificate with fewer days left than this is renewed."""
DEFAULT_CA_ROTATE_BEFORE_DAYS = 90
"""``--ca-rotate-before``: a CA with fewer days left is replaced (the old stays in the bundle)."""
SECRET_TYPE = "kubernetes.io/tls"  # noqa: S105 (a Secret type, not a password)
"""Type of the serving Secret bootstrap made before the manifests shipped it (kept when found)."""
SECRET_TYPES = frozenset({SECRET_TYPE, "Opaque"})
"""Types bootstrap writes into: the manifests' Secrets have no type (the API server makes them
``Opaque``: a ``kubernetes.io/tls`` one cannot be created without its keys), older installations
have ``kubernetes.io/tls``. Any other type is someone else's Secret."""
SECRET_KEYS = (TLS_CERT_FILE, TLS_KEY_FILE, CA_CERT_FILE, CA_KEY_FILE)
"""Every key bootstrap owns, over both Secrets (`CertPlan.data`); other keys are left alone."""
TLS_SECRET_KEYS = (TLS_CERT_FILE, TLS_KEY_FILE, CA_CERT_FILE)
"""The serving Secret's keys: the pair the webhook serves, and the trust bundle."""
CA_SECRET_KEYS = (CA_CERT_FILE, CA_KEY_FILE)
"""The CA Secret's keys: the trust bundle and the CA's private key."""
FIELD_MANAGER = "vsi-certs"
"""The field manager of bootstrap's updates: server-side apply of the manifests leaves the
``data`` this manager owns alone."""
NAMESPACE_ENV = "POD_NAMESPACE"
"""Default of ``--namespace`` (set from the downward API in the bootstrap Job)."""


@dataclass(frozen=True)
class BootstrapSettings:
    """What to install where; built by `make_settings`, which validates every field."""

    namespace: str
    """The webhook's namespace: where its Service and the TLS Secret live."""
    service: str
    """The webhook Service; the serving certificate covers ``<service>.<namespace>.svc`` and kin."""
    secret: str
    """The serving Secret the webhook pods mount: tls.crt, tls.key and ca.crt."""
    webhook_config: str
    """The MutatingWebhookConfiguration whose every entry gets the caBundle."""
    ca_secret: str
    """The CA Secret, read by bootstrap alone: ca.crt and ca.key."""
    days: int = DEFAULT_LEAF_DAYS
    """Validity of a new serving certificate (capped at the CA's)."""
    ca_days: int = DEFAULT_CA_DAYS
    """Validity of a new CA."""
    rotate_before_days: int = DEFAULT_ROTATE_BEFORE_DAYS
    """Renew the serving certificate when it has fewer days left."""
    ca_rotate_before_days: int = DEFAULT_CA_ROTATE_BEFORE_DAYS
    """Renew the CA when it has fewer days left."""


def _check_name(value: str, flag: str) -> str:
    if not validation.is_dns1123_subdomain(value):
        raise InvalidInput(
            f"{flag}: {value!r} is not an object name ({validation.DNS1123_SUBDOMAIN})"
        )
    return value


def make_settings(
    *,
    namespace: str | None,
    service: str,
    secret: str,
    webhook_config: str,
    ca_secret: str,
    days: int = DEFAULT_LEAF_DAYS,
    ca_days: int = DEFAULT_CA_DAYS,
    rotate_before_days: int = DEFAULT_ROTATE_BEFORE_DAYS,
    ca_rotate_before_days: int = DEFAULT_CA_ROTATE_BEFORE_DAYS,
) -> BootstrapSettings:
    """Validate the flags; raise `InvalidInput` naming the first bad one."""
    if not namespace:
        raise InvalidInput(f"--namespace: required (or set {NAMESPACE_ENV})")
    service_dns_names(service, namespace)  # raises InvalidInput for --service / --namespace
    for value, flag in ((days, "--days"), (ca_days, "--ca-days")):
        if value <= 0:
            raise InvalidInput(f"{flag}: {value} is not a positive number of days")
    for value, flag in (
        (rotate_before_days, "--rotate-before"),
        (ca_rotate_before_days, "--ca-rotate-before"),
    ):
        if value < 0:
            raise InvalidInput(f"{flag}: {value} is not zero or a positive number of days")
    if rotate_before_days >= days:
        raise InvalidInput(
            f"--rotate-before: {rotate_before_days} days must be less than --days ({days}), "
            "or every run would renew the serving certificate"
        )
    if ca_rotate_before_days >= ca_days:
        raise InvalidInput(
            f"--ca-rotate-before: {ca_rotate_before_days} days must be less than "
            f"--ca-days ({ca_days}), or every run would renew the CA"
        )
    if ca_rotate_before_days < rotate_before_days:
        raise InvalidInput(
            f"--ca-rotate-before: {ca_rotate_before_days} days must be at least --rotate-before "
            f"({rotate_before_days}), or a serving certificate capped by its CA would be renewed "
            "on every run"
        )
    if ca_secret == secret:
        raise InvalidInput(
            f"--ca-secret: {ca_secret!r} is the --secret too; the CA key must stay out of the "
            "Secret the webhook pods mount"
        )
    return BootstrapSettings(
        namespace=namespace,
        service=service,
        secret=_check_name(secret, "--secret"),
        webhook_config=_check_name(webhook_config, "--webhook-config"),
        ca_secret=_check_name(ca_secret, "--ca-secret"),
        days=days,
        ca_days=ca_days,
        rotate_before_days=rotate_before_days,
        ca_rotate_before_days=ca_rotate_before_days,
    )


@dataclass(frozen=True)
class CertPlan:
    """What the Secret's four keys must hold, and what changed compared with what it holds now."""

    data: Mapping[str, bytes]
    """tls.crt, tls.key, ca.crt (the trust bundle, current CA first) and ca.key."""
    ca_renewed: bool
    """A new CA was made (none stored, its key missing or mismatched, or too close to expiry)."""
    leaf_renewed: bool
    """A new serving certificate was signed."""
    ca_not_after: dt.datetime
    """Expiry of the current CA (the first of the bundle)."""
    leaf_not_after: dt.datetime
    """Expiry of the serving certificate."""
    bundle_size: int
    """How many CA certificates the bundle holds (2 or more during a CA overlap)."""

    @property
    def bundle(self) -> bytes:
        """The PEM trust bundle for the webhook configuration's caBundle."""
        return self.data[CA_CERT_FILE]


def _days_left(cert: x509.Certificate, now: dt.datetime) -> dt.timedelta:
    return cert.not_valid_after_utc - now


def _reusable_ca(
    key_data: bytes | None,
    bundle: Sequence[x509.Certificate],
    min_left: dt.timedelta,
    now: dt.datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, bytes] | None:
    """The current CA (first of the bundle) with its key, unless missing, mismatched or expiring."""
    key = load_ec_key(key_data) if key_data else None
    if key is None or key_data is None or not bundle:
        return None
    cert = bundle[0]
    if not key_matches(key, cert) or _days_left(cert, now) <= min_left:
        return None
    return key, cert, key_data


def _reusable_leaf(
    current: Mapping[str, bytes],
    ca_cert: x509.Certificate,
    names: Sequence[str],
    min_left: dt.timedelta,
    now: dt.datetime,
) -> tuple[x509.Certificate, bytes, bytes] | None:
    """The current leaf as stored, if it is signed by ``ca_cert``, covers ``names`` and lasts."""
    cert_data, key_data = current.get(TLS_CERT_FILE), current.get(TLS_KEY_FILE)
    if not cert_data or not key_data:
        return None
    cert, key = load_cert(cert_data), load_ec_key(key_data)
    if cert is None or key is None or not key_matches(key, cert):
        return None
    if not signed_by(cert, ca_cert) or not set(names) <= san_names(cert):
        return None
    if _days_left(cert, now) <= min_left:
        return None
    return cert, cert_data, key_data


def _bundle(
    ca_cert: x509.Certificate, previous: Sequence[x509.Certificate], now: dt.datetime
) -> list[x509.Certificate]:
    """``ca_cert`` first, then the CAs of ``previous`` that have not expired, without repeats."""
    bundle = [ca_cert]
    for cert in previous:
        if cert.not_valid_after_utc > now and all(cert != kept for kept in bundle):
            bundle.append(cert)
    return bundle


def plan_certificates(
    current: Mapping[str, bytes] | None,
    settings: BootstrapSettings,
    *,
    now: dt.datetime,
) -> CertPlan:
    """Decide the Secret content from its ``current`` data (None when it does not exist).

    A CA with more than ``ca_rotate_before_days`` left and its matching key is kept; otherwise a
    new one is made and the still-valid CAs of the old bundle stay after it in the new bundle
    (expired ones are dropped). A leaf signed by the kept CA, covering every Service name and with
    more than ``rotate_before_days`` left is kept byte for byte; otherwise a new one is signed.
    With nothing to renew, the result equals ``current`` on the four keys (no write needed).
    """
    current = current or {}
    names = service_dns_names(settings.service, settings.namespace)
    previous = load_certs(current.get(CA_CERT_FILE))
    ca_min = dt.timedelta(days=settings.ca_rotate_before_days)
    ca = _reusable_ca(current.get(CA_KEY_FILE), previous, ca_min, now)
    ca_renewed = ca is None
    if ca is None:
        new_ca_key, new_ca_cert = make_ca(days=settings.ca_days, now=now)
        ca = (new_ca_key, new_ca_cert, key_pem(new_ca_key))
    ca_key, ca_cert, ca_key_pem = ca

    leaf_min = dt.timedelta(days=settings.rotate_before_days)
    leaf_pair = _reusable_leaf(current, ca_cert, names, leaf_min, now)
    leaf_renewed = leaf_pair is None
    if leaf_pair is None:
        new_key, new_leaf = make_leaf(ca_key, ca_cert, names, days=settings.days, now=now)
        leaf_pair = (new_leaf, cert_pem(new_leaf), key_pem(new_key))
    leaf, leaf_pem, leaf_key_pem = leaf_pair

    bundle = _bundle(ca_cert, previous, now)
    data = {
        TLS_CERT_FILE: leaf_pem,
        TLS_KEY_FILE: leaf_key_pem,
        CA_CERT_FILE: b"".join(cert_pem(cert) for cert in bundle),
        CA_KEY_FILE: ca_key_pem,
    }
    return CertPlan(
        data=data,
        ca_renewed=ca_renewed,
        leaf_renewed=leaf_renewed,
        ca_not_after=ca_cert.not_valid_after_utc,
        leaf_not_after=leaf.not_valid_after_utc,
        bundle_size=len(bundle),
    )


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """The decoded ``data`` of a Secret object (keys that are not base64 are skipped)."""
    decoded: dict[str, bytes] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            decoded[key] = base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError, ValueError):
            continue
    return decoded


def with_ca_bundle(config: Mapping[str, Any], bundle: bytes) -> tuple[dict[str, Any], int] | None:
    """A copy of the webhook configuration with ``bundle`` in every entry, and how many changed.

    None when every entry already carries exactly that bundle. Raises `CertsError` when the
    configuration has no webhook entry at all (nothing would trust the certificate).
    """
    name = config.get("metadata", {}).get("name", "?")
    webhooks = config.get("webhooks") or []
    if not webhooks:
        raise CertsError(f"MutatingWebhookConfiguration {name!r} has no webhook entries")
    encoded = base64.b64encode(bundle).decode("ascii")
    changed = 0
    entries: list[dict[str, Any]] = []
    for entry in webhooks:
        client_config = dict(entry.get("clientConfig") or {})
        if client_config.get("caBundle") != encoded:
            changed += 1
            client_config["caBundle"] = encoded
        entries.append({**entry, "clientConfig": client_config})
    if not changed:
        return None
    return {**config, "webhooks": entries}, changed


def existing_data(secret: Mapping[str, Any], name: str, namespace: str) -> dict[str, bytes]:
    """The decoded data of a Secret as read, for `combined`.

    Raises `CertsError` for a Secret of a type bootstrap does not write (`SECRET_TYPES`): its
    keys are someone else's.
    """
    kind = secret.get("type") or "Opaque"
    if kind not in SECRET_TYPES:
        raise CertsError(
            f"secrets/{name} in namespace {namespace} has type {kind!r}, expected "
            f"{SECRET_TYPE!r} or 'Opaque' (delete it and apply the manifests again, or choose "
            "another Secret)"
        )
    return secret_data(secret)


def combined(tls: Mapping[str, bytes], ca: Mapping[str, bytes]) -> dict[str, bytes] | None:
    """What the two Secrets hold together, for `plan_certificates` (None: nothing yet).

    The CA key and the bundle come from the CA Secret; from the serving Secret when the CA Secret
    holds no key yet (an installation from before the split kept all four keys there), so that
    the first run after an upgrade keeps its CA and moves its key over.
    """
    source = ca if ca.get(CA_KEY_FILE) else tls
    found = {k: v for k, v in tls.items() if k in (TLS_CERT_FILE, TLS_KEY_FILE)}
    found.update({k: source[k] for k in CA_SECRET_KEYS if k in source})
    return found or None


def secret_needs_write(
    current: Mapping[str, bytes], wanted: Mapping[str, bytes], dropped: Sequence[str] = ()
) -> bool:
    """Whether a Secret differs from ``wanted`` on one of its keys, or still holds one of
    ``dropped`` (the CA key, in the serving Secret of an older installation)."""
    return any(current.get(k) != v for k, v in wanted.items()) or any(k in current for k in dropped)


def secret_body(
    existing: Mapping[str, Any], data: Mapping[str, bytes], dropped: Sequence[str] = ()
) -> dict[str, Any]:
    """The Secret to replace ``existing`` with: ``data`` merged in, ``dropped`` keys removed.

    The replacement keeps the metadata (and so the resourceVersion), the type and every other key.
    """
    encoded = {key: base64.b64encode(value).decode("ascii") for key, value in data.items()}
    kept = {k: v for k, v in (existing.get("data") or {}).items() if k not in dropped}
    return {**existing, "data": {**kept, **encoded}}
