"""`vsi-webhook doctor`: the cluster half of the preflight, on ``vsi-injector --check``'s terms.

Flags are checked here (a bad one is one line and exit code 2, before any call); the run is
`webhook.doctor.run.doctor`; the report goes to stdout as a table or JSON (`vsi_common.report`),
and the exit code says whether something would fail: 0 would work, 1 something would fail, 2 bad
usage. It only reads (get and list), plus a TokenRequest per consumer with ``--vault``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

from vsi_common import report, validation
from vsi_common.logs import configure
from vsi_common.report import FAIL, Check
from webhook.doctor.run import DoctorSettings, doctor
from webhook.doctor.state import (
    DEFAULT_CONFIG_MAP,
    DEFAULT_NAMESPACE,
    DEFAULT_SERVICE,
    DEFAULT_TLS_SECRET,
    DEFAULT_WEBHOOK_CONFIG,
    ROTATE_CRONJOB,
    Locations,
)
from webhook.errors import UsageError, WebhookError

NAMESPACE_ENV: Final = "POD_NAMESPACE"
"""In a pod (a Helm test), the webhook's namespace when ``--webhook-namespace`` is not given."""
MAX_DEADLINE: Final = 3600.0
"""Largest ``--deadline`` accepted, in seconds (the injector's own limit)."""


def add_parser(sub: Any) -> None:
    """Register ``doctor`` on the ``vsi-webhook`` subcommands."""
    parser = sub.add_parser(
        "doctor",
        help="check the webhook, the opted-in namespaces and (with --vault) Vault",
        description=(
            "Report what would make storage pods fail, and how to fix it: the webhook's "
            "configuration, caBundle, certificate and endpoints; the opted-in namespaces, the "
            "Secrets of their profiles and the objects the webhook would mutate; with --vault, "
            "every Vault connection, checked as vsi-injector --check would. Read-only. Exit "
            "code 0: would work, 1: something would fail, 2: bad usage."
        ),
    )
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        dest="namespaces",
        metavar="NS",
        help="check only this namespace (repeatable); default every opted-in namespace",
    )
    parser.add_argument("--config", metavar="FILE", help="profiles file (default: the ConfigMap's)")
    parser.add_argument("-o", "--output", choices=report.OUTPUT_FORMATS, default="table")
    parser.add_argument(
        "--vault", action="store_true", help="also check every Vault connection (TokenRequests)"
    )
    parser.add_argument(
        "--deadline", metavar="SECONDS", help="with --vault: limit of each connection check"
    )
    parser.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig (default: in-cluster)")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument(
        "--webhook-namespace",
        metavar="NS",
        help=f"the webhook's namespace (default ${NAMESPACE_ENV}, else {DEFAULT_NAMESPACE})",
    )
    parser.add_argument(
        "--webhook-config",
        metavar="NAME",
        default=DEFAULT_WEBHOOK_CONFIG,
        help="the MutatingWebhookConfiguration",
    )
    parser.add_argument("--service", default=DEFAULT_SERVICE, help="the webhook's Service")
    parser.add_argument(
        "--secret", default=DEFAULT_TLS_SECRET, help="the serving-certificate Secret"
    )
    parser.add_argument(
        "--config-map", default=DEFAULT_CONFIG_MAP, help="the profiles ConfigMap (key config.yaml)"
    )
    parser.add_argument(
        "--rotate-cronjob",
        metavar="NAME",
        default=ROTATE_CRONJOB,
        help="vsi-certs' rotation CronJob the certificate fixes name; '' when the certificate "
        "is issued elsewhere (cert-manager)",
    )
    parser.set_defaults(func=run)


def _name(value: str, flag: str, valid: Callable[[str], bool], rule: str) -> str:
    if not valid(value):
        raise UsageError(f"{flag}: {value!r} is not {rule}")
    return value


def _deadline(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_DEADLINE:
        raise UsageError(f"--deadline: expected seconds in (0, {MAX_DEADLINE:g}], got {text!r}")
    return seconds


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> DoctorSettings:
    """The flags as `DoctorSettings`; `UsageError` names the bad flag."""
    subdomain = validation.DNS1123_SUBDOMAIN
    namespace = (
        args.webhook_namespace or environ.get(NAMESPACE_ENV, "").strip() or (DEFAULT_NAMESPACE)
    )
    locations = Locations(
        namespace=_name(
            namespace,
            "--webhook-namespace",
            validation.is_namespace_name,
            validation.DNS1123_LABEL,
        ),
        webhook_config=_name(
            args.webhook_config, "--webhook-config", validation.is_dns1123_subdomain, subdomain
        ),
        service=_name(
            args.service, "--service", validation.is_service_name, validation.DNS1035_LABEL
        ),
        secret=_name(args.secret, "--secret", validation.is_secret_name, subdomain),
        config_map=_name(
            args.config_map, "--config-map", validation.is_dns1123_subdomain, subdomain
        ),
        rotate_cronjob=_name(
            args.rotate_cronjob, "--rotate-cronjob", validation.is_dns1123_subdomain, subdomain
        )
        if args.rotate_cronjob
        else None,
    )
    requested = tuple(
        _name(n, "-n", validation.is_namespace_name, validation.DNS1123_LABEL)
        for n in dict.fromkeys(args.namespaces or ())
    )
    if args.deadline is not None and not args.vault:
        raise UsageError("--deadline: only with --vault")
    return DoctorSettings(
        locations=locations,
        namespaces=requested,
        config_path=args.config,
        vault=args.vault,
        deadline=_deadline(args.deadline),
        kubeconfig=args.kubeconfig,
        context=args.context,
    )


API_CHECK: Final = "kubernetes-api"
"""The one check of a ``-o json`` report when the doctor could not start (no API, no kubeconfig)."""
API_FIX: Final = (
    "check --kubeconfig / KUBECONFIG and --context, that the API server is reachable from here "
    "(kubectl get --raw /readyz), and the credentials"
)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``doctor``: the report on stdout, its exit code returned."""
    settings = settings_from(args, os.environ)
    configure("text")
    try:
        checks = asyncio.run(doctor(settings))
    except WebhookError as exc:
        if args.output != "json":
            raise
        # -o json promises JSON: the failure that stopped the doctor is its one check.
        failed = Check(API_CHECK, FAIL, str(exc), API_FIX)
        sys.stdout.write(report.render([failed], "json"))
        return exc.exit_code
    sys.stdout.write(report.render(checks, args.output))
    return report.exit_code(checks)
