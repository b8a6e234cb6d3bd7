"""`vsi-certs`: make the webhook's serving certificates, and (``bootstrap``) install them.

Errors are mapped to exit codes here and only here: 2 for bad input, 1 for other failures, each as
one line on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence

from certs import bootstrap_cli
from certs.bootstrap_cli import whole_number
from certs.errors import CertsError
from certs.generate import generate
from certs.pki import DEFAULT_CA_DAYS, DEFAULT_LEAF_DAYS
from vsi_common import names
from vsi_common.cli import OneLineParser, add_version, run_command

PROG = "vsi-certs"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description=(
            "Make the CA and serving certificate of the vault-storage-injector admission webhook "
            "(ECDSA P-256; files ca.crt, ca.key, tls.crt, tls.key), or install them in a cluster."
        ),
    )
    add_version(parser)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    gen = sub.add_parser(
        "generate",
        help="write a CA and a serving certificate for <service>.<namespace>.svc to a directory",
        description=(
            "Write ca.crt, ca.key, tls.crt and tls.key for the webhook Service. A still-valid CA "
            "in DIR is reused (the caBundle stays the same); the leaf is reused unless --rotate."
        ),
    )
    gen.add_argument(
        "--service",
        default=names.WEBHOOK_SERVICE,
        help=f"the webhook's Service (default {names.WEBHOOK_SERVICE})",
    )
    gen.add_argument(
        "--namespace",
        metavar="NS",
        help=f"the webhook's namespace (default ${names.POD_NAMESPACE}, else "
        f"{names.WEBHOOK_NAMESPACE})",
    )
    gen.add_argument("--out", required=True, metavar="DIR", help="directory for the PEM files")
    gen.add_argument(
        "--days",
        type=whole_number,
        default=DEFAULT_LEAF_DAYS,
        help=f"validity of the serving certificate in days (default {DEFAULT_LEAF_DAYS})",
    )
    gen.add_argument(
        "--ca-days",
        type=whole_number,
        default=DEFAULT_CA_DAYS,
        help=f"validity of a new CA in days (default {DEFAULT_CA_DAYS})",
    )
    gen.add_argument(
        "--san",
        action="append",
        default=[],
        metavar="NAME",
        help="an extra DNS name or IP address for the serving certificate (repeatable)",
    )
    gen.add_argument("--rotate", action="store_true", help="make a new serving certificate")
    gen.set_defaults(func=_cmd_generate)
    bootstrap_cli.add_parser(sub)
    return parser


def _namespace(flag: str | None) -> str:
    """--namespace, else $POD_NAMESPACE, else the namespace of manifests/base (as doctor)."""
    return flag or os.environ.get(names.POD_NAMESPACE, "").strip() or names.WEBHOOK_NAMESPACE


def _cmd_generate(args: argparse.Namespace) -> int:
    result = generate(
        args.out,
        args.service,
        _namespace(args.namespace),
        days=args.days,
        ca_days=args.ca_days,
        extra_sans=args.san,
        rotate=args.rotate,
    )
    wanted = dt.datetime.now(dt.UTC) + dt.timedelta(days=args.days)
    if not result.leaf_reused and result.leaf_not_after + dt.timedelta(days=1) < wanted:
        print(
            f"{PROG}: note: --days {args.days} capped: the serving certificate expires with its "
            f"CA on {result.ca_not_after:%Y-%m-%d} (a longer one needs a new CA: --ca-days)",
            file=sys.stderr,
        )
    ca = "reused" if result.ca_reused else "created"
    leaf = "reused" if result.leaf_reused else "created"
    print(
        f"CA {ca} (expires {result.ca_not_after:%Y-%m-%d}), serving certificate {leaf} "
        f"(expires {result.leaf_not_after:%Y-%m-%d}) in {result.files.directory} "
        f"for {', '.join(result.names)}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vsi-certs``; `CertsError` becomes one line and its exit code."""
    return run_command(build_parser(), argv, CertsError)


if __name__ == "__main__":
    sys.exit(main())
