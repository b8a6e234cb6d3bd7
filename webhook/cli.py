"""`vsi-webhook`: serve the admission webhook over HTTPS, preview its mutation, check the cluster.

Exit codes are decided here only: 0 success, 2 bad usage or input, 1 any other failure; errors
are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vsi_common.cli import OneLineParser, add_version, run_command
from webhook.errors import WebhookError

PROG = "vsi-webhook"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description=(
            "Mutating admission webhook that wires HashiCorp Vault / OpenBao volume-encryption "
            "settings into Portworx and Rook-Ceph objects in namespaces labelled "
            "vault-storage-injector.io/enabled=true."
        ),
    )
    add_version(parser)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    from webhook.commands import doctor, mutate, serve

    serve.add_parser(sub)
    mutate.add_parser(sub)
    doctor.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vsi-webhook``; `WebhookError` becomes one line and its exit code."""
    return run_command(build_parser(), argv, WebhookError)


if __name__ == "__main__":
    sys.exit(main())
