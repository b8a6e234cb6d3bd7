"""The ``vsi-certs bootstrap`` subcommand: flags in, one summary line out.

Kept apart from `certs.cli` so that ``vsi-certs generate`` needs no Kubernetes client; `certs.cli`
registers this parser when the module imports, and maps `CertsError` to exit codes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import TypeVar

from certs.bootstrap import describe, run
from certs.pki import DEFAULT_CA_DAYS, DEFAULT_LEAF_DAYS
from certs.plan import (
    DEFAULT_CA_ROTATE_BEFORE_DAYS,
    DEFAULT_ROTATE_BEFORE_DAYS,
    NAMESPACE_ENV,
    make_settings,
)

_P = TypeVar("_P", bound=argparse.ArgumentParser)


def whole_number(text: str) -> int:
    """argparse ``type`` for the day counts of both subcommands; the range is checked later, where
    the message can name the flag and its rule (`certs.plan.make_settings`, `certs.generate`)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def add_parser(sub: argparse._SubParsersAction[_P]) -> None:
    """Register ``bootstrap`` on the ``vsi-certs`` subcommands."""
    boot = sub.add_parser(
        "bootstrap",
        help="make or reuse the certificates in a Secret and patch the webhook's caBundle",
        description=(
            "Make or reuse the webhook's CA and serving certificate, store the serving pair in "
            "--secret and the CA with its key in --ca-secret (two Secrets the manifests ship "
            "without data: none is created here), and write the CA bundle into every entry of "
            "the MutatingWebhookConfiguration. Idempotent: with valid certificates nothing is "
            "written. Uses the pod's service account in a cluster, else the kubeconfig."
        ),
    )
    boot.add_argument(
        "--namespace",
        default=os.environ.get(NAMESPACE_ENV),
        help=f"the webhook's namespace (default: ${NAMESPACE_ENV})",
    )
    boot.add_argument("--service", required=True, help="the webhook Service name")
    boot.add_argument(
        "--secret", required=True, help="the Secret the webhook pods serve from (it must exist)"
    )
    boot.add_argument(
        "--ca-secret",
        required=True,
        metavar="NAME",
        help="the Secret that keeps the CA and its key, read by bootstrap alone (it must exist)",
    )
    boot.add_argument(
        "--webhook-config",
        required=True,
        metavar="NAME",
        help="the MutatingWebhookConfiguration whose caBundle to set",
    )
    _add_day_flags(boot)
    boot.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file (default: in-cluster)")
    boot.add_argument("--context", help="kubeconfig context (default: its current context)")
    boot.set_defaults(func=_cmd_bootstrap)


def _add_day_flags(boot: argparse.ArgumentParser) -> None:
    """Validity of new certificates and when to renew them."""
    boot.add_argument(
        "--days",
        type=whole_number,
        default=DEFAULT_LEAF_DAYS,
        help=f"validity of a new serving certificate in days (default {DEFAULT_LEAF_DAYS})",
    )
    boot.add_argument(
        "--ca-days",
        type=whole_number,
        default=DEFAULT_CA_DAYS,
        help=f"validity of a new CA in days (default {DEFAULT_CA_DAYS})",
    )
    boot.add_argument(
        "--rotate-before",
        type=whole_number,
        default=DEFAULT_ROTATE_BEFORE_DAYS,
        metavar="DAYS",
        help=(
            "renew the serving certificate when it expires within DAYS "
            f"(default {DEFAULT_ROTATE_BEFORE_DAYS})"
        ),
    )
    boot.add_argument(
        "--ca-rotate-before",
        type=whole_number,
        default=DEFAULT_CA_ROTATE_BEFORE_DAYS,
        metavar="DAYS",
        help=(
            "renew the CA when it expires within DAYS; the old CA stays in the bundle until it "
            f"expires (default {DEFAULT_CA_ROTATE_BEFORE_DAYS})"
        ),
    )


def _cmd_bootstrap(args: argparse.Namespace) -> int:
    settings = make_settings(
        namespace=args.namespace,
        service=args.service,
        secret=args.secret,
        webhook_config=args.webhook_config,
        ca_secret=args.ca_secret,
        days=args.days,
        ca_days=args.ca_days,
        rotate_before_days=args.rotate_before,
        ca_rotate_before_days=args.ca_rotate_before,
    )
    result = asyncio.run(run(settings, kubeconfig=args.kubeconfig, context=args.context))
    print(describe(result, settings))
    return 0
