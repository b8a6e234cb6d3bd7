"""`vsi-webhook`: serve the admission webhook over HTTPS, or preview its mutation offline.

Exit codes are decided here only: 0 success, 2 bad usage or input, 1 any other failure; errors
are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from webhook.errors import WebhookError

PROG = "vsi-webhook"


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description=(
            "Mutating admission webhook that wires HashiCorp Vault / OpenBao volume-encryption "
            "settings into Portworx and Rook-Ceph objects in namespaces labelled "
            "vault-storage-injector.io/enabled=true."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    from webhook.commands import mutate, serve

    serve.add_parser(sub)
    mutate.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except WebhookError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
