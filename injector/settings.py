"""The command line of ``vsi-injector``, parsed into validated `Settings`.

The flags are defined here; `injector.config` validates them together with the ``VSI_*`` and
``VAULT_*`` variables. Every problem is a one-line `SettingsError` naming the flag or variable.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from injector import layouts
from injector.config import Flags, build_settings
from injector.errors import SettingsError
from injector.model import SERVICE_ACCOUNT_DIR, Settings
from vsi_common import names
from vsi_common.logs import LOG_FORMATS


class _Parser(argparse.ArgumentParser):
    """argparse that raises a one-line SettingsError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise SettingsError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command line; every flag also has a ``VSI_*`` variable (see docs/injector.md)."""
    p = _Parser(
        prog="vsi-injector",
        description="Fetch or create per-volume encryption keys in Vault and write them to files.",
    )
    p.add_argument("--layout", choices=layouts.LAYOUTS, help=f"key layout (env {names.VSI_LAYOUT})")
    p.add_argument(
        "--volume",
        action="append",
        metavar="PVC",
        help=f"PVC name, repeatable (env {names.VSI_VOLUMES}, comma-separated)",
    )
    p.add_argument(
        "--output-dir", metavar="DIR", help=f"key file directory (env {names.VSI_OUTPUT_DIR})"
    )
    p.add_argument("--namespace", metavar="NS", help=f"PVC namespace (env {names.VSI_NAMESPACE})")
    p.add_argument(
        "--seed-file", metavar="F", help=f"rook: key to migrate once (env {names.VSI_SEED_FILE})"
    )
    p.add_argument(
        "--verify-luks",
        metavar="PATH",
        help=f"LUKS device the key must unlock (env {names.VSI_VERIFY_LUKS})",
    )
    p.add_argument(
        "--deadline", metavar="SECONDS", help=f"whole-run deadline (env {names.VSI_DEADLINE})"
    )
    p.add_argument(
        "--key-path-template",
        metavar="TEMPLATE",
        help=f"volume-keys secret path (env {names.VSI_KEY_PATH_TEMPLATE})",
    )
    p.add_argument(
        "--file-owner", metavar="UID[:GID]", help=f"key file owner (env {names.VSI_FILE_OWNER})"
    )
    p.add_argument(
        "--group-readable",
        action="store_const",
        const="true",
        help=f"key files 0440 instead of 0400 (env {names.VSI_FILE_GROUP_READABLE})",
    )
    p.add_argument(
        "--log-format", choices=LOG_FORMATS, help=f"log format (env {names.VSI_LOG_FORMAT})"
    )
    return p


def parse(
    argv: Sequence[str] | None,
    env: Mapping[str, str],
    *,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> Settings:
    """Flags and environment into validated `Settings`; raises `SettingsError` (one line)."""
    args = build_parser().parse_args(argv)
    return build_settings(Flags(**vars(args)), env, service_account_dir=service_account_dir)
