"""Command-line plumbing every command shares: one-line usage errors, errors to exit codes.

Each package decides which of its errors a user sees and with which exit code (its error classes
carry ``exit_code``); `run_command` is the one place that turns such an error into one line on
stderr and that code, so no command prints a traceback to a user.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

DISTRIBUTION = "vault-storage-injector"
"""The Python distribution all three commands come from (its version is theirs)."""
EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells report it."""


def package_version() -> str:
    """The installed distribution's version (importlib.metadata), ``unknown`` when not installed."""
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def add_version(parser: argparse.ArgumentParser) -> None:
    """``--version``: prints ``<prog> <version>`` and exits 0, the same on every command."""
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def run_command(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    errors: type[Exception],
) -> int:
    """Parse ``argv``, run the chosen subcommand's ``func``; map ``errors`` to their exit code."""
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except errors as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 1))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code
