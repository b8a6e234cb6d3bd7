"""The webhook's own objects: is the API server able to call it, and will it trust what answers?

With ``failurePolicy: Fail`` a webhook the API server cannot reach or cannot verify refuses every
object it matches. So the doctor checks what ``vsi-certs bootstrap`` and the manifests set up: the
MutatingWebhookConfiguration, a ``caBundle`` in every entry that verifies the serving certificate
in the webhook's Secret (`certs.pki.signed_by`), that certificate's names, key and expiry, the
Service and its ready endpoints, and where the profiles come from. Pure (the clock is a
parameter); the certificates are parsed with `certs.pki`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

from cryptography import x509

from certs import pki
from certs.plan import DEFAULT_ROTATE_BEFORE_DAYS
from injector.check.tls import key_id
from vsi_common.report import FAIL, OK, WARN, Check
from webhook.core.config import parse_config
from webhook.core.profiles import Config, default_config
from webhook.doctor.state import (
    CONFIG_KEY,
    Failed,
    Got,
    InstallState,
    Locations,
    unread_check,
)
from webhook.errors import ConfigError

EXPIRY_WARNING: Final = dt.timedelta(days=DEFAULT_ROTATE_BEFORE_DAYS)
"""A serving certificate this close to its end should have been renewed by the rotation CronJob
(it renews at this many days left): a warning that the rotation does not run."""
SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"
"""The label by which an EndpointSlice names its Service."""
DEFAULT_WEBHOOK_PORT: Final = 443
"""``clientConfig.service.port`` when an entry names none."""
SPARE_REPLICAS: Final = 2
"""Ready webhook pods below which a drain or a rolling update can leave none (manifests: 2)."""


def _rotate_fix(loc: Locations, job: str = "rotate-now") -> str:
    if loc.rotate_cronjob is None:
        return (
            "renew it where it is issued (cert-manager: kubectl -n "
            f"{loc.namespace} describe certificate; its cainjector writes the caBundle)"
        )
    return (
        f"run the certificate bootstrap now: kubectl -n {loc.namespace} create job "
        f"--from=cronjob/{loc.rotate_cronjob} {job}"
    )


def _entries(config: Got, loc: Locations) -> tuple[Check, list[dict[str, Any]] | None]:
    """``webhook-config``: the configuration exists, has entries, and they call our Service."""
    name = "webhook-config"
    what = f"MutatingWebhookConfiguration {loc.webhook_config}"
    if isinstance(config, Failed):
        rule = f"get on mutatingwebhookconfigurations {loc.webhook_config}"
        return unread_check(name, config, rule), None
    if config is None:
        fix = "kubectl apply -k manifests/base (or your overlay); or name it with --webhook-config"
        detail = f"{what} not found: the API server calls no webhook and nothing is injected"
        return Check(name, FAIL, detail, fix), None
    entries = [e for e in config.get("webhooks") or [] if isinstance(e, dict)]
    if not entries:
        detail = f"{what} has no webhook entries: nothing is injected"
        return Check(name, FAIL, detail, "re-apply manifests/base"), None
    elsewhere = [
        str(e.get("name")) for e in entries if _service_of(e) != (loc.namespace, loc.service)
    ]
    names = ", ".join(str(e.get("name")) for e in entries)
    if elsewhere:
        detail = (
            f"{what}: entries {', '.join(elsewhere)} do not call Service "
            f"{loc.namespace}/{loc.service}"
        )
        fix = "check --webhook-namespace and --service, or the entries' clientConfig.service"
        return Check(name, WARN, detail, fix), entries
    policies = sorted({str(e.get("failurePolicy", "Fail")) for e in entries})
    detail = (
        f"{what}: {len(entries)} entries ({names}) call Service {loc.namespace}/{loc.service}; "
        f"failurePolicy {', '.join(policies)}"
    )
    return Check(name, OK, detail), entries


def _service_of(entry: Mapping[str, Any]) -> tuple[str, str] | None:
    service = (entry.get("clientConfig") or {}).get("service")
    if not isinstance(service, dict):
        return None
    return str(service.get("namespace", "")), str(service.get("name", ""))


def _port_of(entry: Mapping[str, Any]) -> int:
    service = (entry.get("clientConfig") or {}).get("service") or {}
    port = service.get("port", DEFAULT_WEBHOOK_PORT) if isinstance(service, dict) else None
    return port if isinstance(port, int) else DEFAULT_WEBHOOK_PORT


def _issuer(cert: x509.Certificate) -> str:
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return cert.issuer.rfc4514_string()
    kid = f" (key id {key_id(aki.key_identifier)})" if aki.key_identifier else ""
    return cert.issuer.rfc4514_string() + kid


def _subject(cert: x509.Certificate) -> str:
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return cert.subject.rfc4514_string()
    return f"{cert.subject.rfc4514_string()} (key id {key_id(ski.digest)})"


def _bundle_of(entry: Mapping[str, Any]) -> list[x509.Certificate] | None:
    """The CAs of an entry's caBundle; None when it has none, [] when it does not parse."""
    encoded = (entry.get("clientConfig") or {}).get("caBundle")
    if not encoded:
        return None
    try:
        return pki.load_certs(base64.b64decode(str(encoded), validate=True))
    except (binascii.Error, ValueError):
        return []


def _ca_bundle(
    entries: Sequence[Mapping[str, Any]], leaf: x509.Certificate | None, loc: Locations
) -> tuple[Check, x509.Certificate | None]:
    """``ca-bundle``: every entry's caBundle verifies the serving certificate; the CA that does."""
    name = "ca-bundle"
    fix = _rotate_fix(loc, "fix-ca") + " (it writes the Secret's CA into every entry)"
    bundles = {str(e.get("name")): _bundle_of(e) for e in entries}
    missing = [n for n, b in bundles.items() if b is None]
    if missing:
        detail = (
            f"no caBundle in {', '.join(missing)}: the API server cannot verify the webhook "
            "(x509: certificate signed by unknown authority) and refuses every object it matches"
        )
        return Check(name, FAIL, detail, fix), None
    broken = [n for n, b in bundles.items() if not b]
    if broken:
        detail = f"the caBundle of {', '.join(broken)} holds no PEM certificate"
        return Check(name, FAIL, detail, fix), None
    if leaf is None:
        count = len(bundles)
        detail = f"{count} entries carry a caBundle; not checked against the serving certificate"
        return Check(name, WARN, detail, "see serving-secret"), None
    issuer: x509.Certificate | None = None
    wrong: list[str] = []
    for entry, bundle in bundles.items():
        signer = next((ca for ca in bundle or () if pki.signed_by(leaf, ca)), None)
        if signer is None:
            wrong.append(entry)
        issuer = issuer or signer
    if wrong:
        held = {_subject(ca) for n in wrong for ca in bundles[n] or ()}
        detail = (
            f"the caBundle of {', '.join(wrong)} holds {'; '.join(sorted(held))}, but the "
            f"serving certificate was issued by {_issuer(leaf)}: the API server refuses the "
            "webhook (x509: certificate signed by unknown authority)"
        )
        return Check(name, FAIL, detail, fix), None
    assert issuer is not None
    detail = (
        f"the caBundle of all {len(bundles)} entries holds {_subject(issuer)}, which issued "
        "the serving certificate"
    )
    return Check(name, OK, detail), issuer


def _secret_file(secret: Mapping[str, Any], key: str) -> bytes | None:
    value = (secret.get("data") or {}).get(key)
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _serving(secret: Got, loc: Locations) -> tuple[Check, x509.Certificate | None]:
    """``serving-secret``: the Secret holds a certificate for the Service, and its key."""
    name = "serving-secret"
    what = f"Secret {loc.namespace}/{loc.secret}"
    fix = _rotate_fix(loc, "bootstrap-now") + "; or name the Secret with --secret"
    if isinstance(secret, Failed):
        return unread_check(name, secret, f"get on secrets {loc.secret} in {loc.namespace}"), None
    if secret is None:
        detail = f"{what} not found: the webhook pods cannot start (they mount it)"
        return Check(name, FAIL, detail, fix), None
    cert_pem = _secret_file(secret, pki.TLS_CERT_FILE)
    leaf = pki.load_cert(cert_pem) if cert_pem else None
    if leaf is None:
        detail = f"{what} has no PEM certificate in {pki.TLS_CERT_FILE}"
        return Check(name, FAIL, detail, fix), None
    key_pem = _secret_file(secret, pki.TLS_KEY_FILE)
    key = pki.load_private_key(key_pem) if key_pem else None
    if key is None or not pki.key_matches(key, leaf):
        what_key = "does not match" if key is not None else "is missing or not a PEM key for"
        detail = f"{what}: {pki.TLS_KEY_FILE} {what_key} {pki.TLS_CERT_FILE}"
        return Check(name, FAIL, detail, fix), leaf
    wanted = f"{loc.service}.{loc.namespace}.svc"
    held = sorted(pki.san_names(leaf))
    if wanted not in held:
        detail = (
            f"{what}: the certificate is for {', '.join(held) or 'no name'}, but the API server "
            f"calls {wanted} (x509: certificate is valid for ..., not {wanted})"
        )
        return Check(name, FAIL, detail, fix), leaf
    detail = (
        f"{what}: {pki.TLS_CERT_FILE} is {_subject(leaf)} for {wanted}, issued by "
        f"{_issuer(leaf)}; {pki.TLS_KEY_FILE} matches it"
    )
    return Check(name, OK, detail), leaf


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _expiry(
    leaf: x509.Certificate, ca: x509.Certificate | None, loc: Locations, now: dt.datetime
) -> Check:
    """``serving-expiry``: the serving certificate (and the CA that issued it) still valid."""
    name = "serving-expiry"
    fix = _rotate_fix(loc)
    for what, cert in (("the serving certificate", leaf), ("its CA", ca)):
        if cert is None:
            continue
        if now < cert.not_valid_before_utc:
            detail = f"{what} is not valid before {_when(cert.not_valid_before_utc)}"
            return Check(name, FAIL, detail, "check the clocks of the nodes and of this machine")
        if now >= cert.not_valid_after_utc:
            detail = (
                f"{what} expired on {_when(cert.not_valid_after_utc)}: the API server refuses "
                "the webhook's TLS and, with failurePolicy Fail, every object it matches"
            )
            return Check(name, FAIL, detail, fix)
    end = leaf.not_valid_after_utc
    detail = f"the serving certificate is valid until {_when(end)} ({(end - now).days} days)"
    if end - now < EXPIRY_WARNING:
        detail += (
            f"; the CronJob {loc.rotate_cronjob} renews it {EXPIRY_WARNING.days} days ahead, so "
            "it has not run or has failed"
            if loc.rotate_cronjob is not None
            else f"; less than {EXPIRY_WARNING.days} days left"
        )
        return Check(name, WARN, detail, fix)
    return Check(name, OK, detail)


def _service(service: Got, entries: Sequence[Mapping[str, Any]] | None, loc: Locations) -> Check:
    """``service``: the Service exists and has the port the entries call."""
    name = "service"
    what = f"Service {loc.namespace}/{loc.service}"
    if isinstance(service, Failed):
        return unread_check(name, service, f"get on services {loc.service} in {loc.namespace}")
    if service is None:
        detail = f"{what} not found: the API server cannot reach the webhook"
        return Check(name, FAIL, detail, "kubectl apply -k manifests/base (or your overlay)")
    ports = {p.get("port") for p in (service.get("spec") or {}).get("ports") or []}
    wanted = sorted({_port_of(e) for e in entries or ()})
    lacking = [p for p in wanted if p not in ports]
    if lacking:
        detail = f"{what} has no port {', '.join(map(str, lacking))}, which the entries call"
        return Check(name, FAIL, detail, "re-apply manifests/base, or fix the entries' port")
    shown = ", ".join(str(p) for p in sorted(p for p in ports if isinstance(p, int)))
    return Check(name, OK, f"{what} exists (ports {shown})")


def _pods_command(service: Got, loc: Locations) -> str:
    """How to list the pods behind the Service: by its own selector when it has one."""
    spec = (service.get("spec") or {}) if isinstance(service, dict) else {}
    selector = spec.get("selector") if isinstance(spec, dict) else None
    if isinstance(selector, dict) and selector:
        labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        return f"kubectl -n {loc.namespace} get pods -l {labels}"
    return f"kubectl -n {loc.namespace} describe service {loc.service}"


def _ready_pods(slices: tuple[dict[str, Any], ...], loc: Locations) -> int:
    """Ready endpoints of the Service, each pod once (a dual-stack Service has a slice per
    address family, each listing every pod)."""
    seen: set[str] = set()
    unnamed = 0
    for s in slices:
        if ((s.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL) != loc.service:
            continue
        for e in s.get("endpoints") or []:
            if (e.get("conditions") or {}).get("ready") is False:
                continue
            ref = e.get("targetRef") or {}
            pod = ref.get("uid") or ref.get("name")
            if pod:
                seen.add(str(pod))
            else:
                unnamed += 1
    return len(seen) + unnamed


def _endpoints(slices: tuple[dict[str, Any], ...] | Failed, service: Got, loc: Locations) -> Check:
    """``endpoints``: how many webhook pods are ready behind the Service."""
    name = "endpoints"
    if isinstance(slices, Failed):
        return unread_check(name, slices, f"list on endpointslices in {loc.namespace}")
    ready = _ready_pods(slices, loc)
    pods = _pods_command(service, loc)
    if ready == 0:
        detail = (
            f"no ready endpoint behind Service {loc.service}: with failurePolicy Fail the API "
            "server refuses every object the webhook matches"
        )
        fix = f"{pods}; a pod turns ready once its certificate and profiles are loaded (/readyz)"
        return Check(name, FAIL, detail, fix)
    detail = f"{ready} ready endpoint{'s' if ready > 1 else ''} behind Service {loc.service}"
    if ready < SPARE_REPLICAS:
        detail += ": a drain or a rolling update can leave none"
        return Check(name, WARN, detail, f"run {SPARE_REPLICAS} replicas or more; {pods}")
    return Check(name, OK, detail)


def install_checks(install: InstallState, loc: Locations, now: dt.datetime) -> list[Check]:
    """The checks of the webhook's own objects, in the order the API server depends on them."""
    config, entries = _entries(install.webhook_config, loc)
    serving, leaf = _serving(install.tls_secret, loc)
    found = [config]
    issuer = None
    if entries is not None:
        bundle, issuer = _ca_bundle(entries, leaf, loc)
        found.append(bundle)
    found.append(serving)
    if leaf is not None:
        found.append(_expiry(leaf, issuer, loc, now))
    found.append(_service(install.service, entries, loc))
    found.append(_endpoints(install.endpoint_slices, install.service, loc))
    return found


def profiles(config_map: Got, loc: Locations) -> tuple[Config, Check]:
    """``profiles``: the profiles the webhook runs with, from its ConfigMap (built-ins without)."""
    name = "profiles"
    what = f"ConfigMap {loc.namespace}/{loc.config_map}"
    builtin = default_config()
    if isinstance(config_map, Failed):
        unread = unread_check(
            name, config_map, f"get on configmaps {loc.config_map} in {loc.namespace}"
        )
        detail = f"{unread.detail}; checking with the built-in profiles"
        return builtin, Check(name, WARN, detail, unread.fix)
    if config_map is None:
        detail = (
            f"{what} not found: checking with the built-in profiles (the Deployment of "
            "manifests/base mounts it, so its pods cannot start without it)"
        )
        return builtin, Check(name, WARN, detail, "re-apply manifests/base, or pass --config F")
    text = (config_map.get("data") or {}).get(CONFIG_KEY)
    if not isinstance(text, str):
        detail = f"{what} has no key {CONFIG_KEY}: the webhook cannot load its profiles"
        return builtin, Check(name, FAIL, detail, f"put the profiles file under {CONFIG_KEY}")
    try:
        config = parse_config(text, source=f"{what} key {CONFIG_KEY}")
    except ConfigError as exc:
        detail = f"{exc}; checking with the built-in profiles"
        return builtin, Check(name, FAIL, detail, "fix the field named (docs/profiles.md)")
    shown = ", ".join(f"{p.name} ({p.type})" for p in config.profiles) or "none"
    return config, Check(name, OK, f"from {what}: {shown}")
