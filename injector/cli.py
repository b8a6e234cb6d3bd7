"""``vsi-injector``: the command line, and the one place errors become exit codes.

Exit codes: 0 every key file written; 2 bad settings (found before any network call); 1 anything
else (Vault, Kubernetes, LUKS or file failures, or the deadline), after removing every key file of
this run. ``--check`` (`injector.check.preflight`) prints a report instead, creating and writing
nothing, and exits 0 when a run would succeed, 1 when it would fail, 2 for bad settings as a run
does. The user sees one line; no traceback, no secret. A watchdog ends a run that outlives its
deadline (a server trickling bytes defeats per-read timeouts) the same way. urllib3 and
kubernetes_asyncio are imported only after the settings are valid (`injector.run` and
`injector.check.preflight` load them), and kubernetes_asyncio only for templates that need the PV.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NoReturn

from injector import fixes, layouts
from injector.deadline import Deadline, Watchdog
from injector.errors import InjectorError, KeyFileConflict, SettingsError, SettingsErrors
from injector.redact import Redactor
from injector.run import run
from injector.settings.flags import Flags, build_settings
from injector.settings.model import POD_NAMESPACE, SERVICE_ACCOUNT_DIR, Settings
from vsi_common import logs, names, report
from vsi_common.cli import add_version
from vsi_common.logs import LOG_FORMATS, fields
from vsi_common.report import FAIL, Check

EXIT_OK: Final = 0
"""All key files written."""
EXIT_FAILURE: Final = 1
"""Vault, Kubernetes, LUKS or file failure; no key file left."""
EXIT_SETTINGS: Final = 2
"""A missing or invalid setting; nothing was contacted."""
SETTINGS_CHECK: Final = "settings"  # in injector.check.preflight.CHECK_NAMES
"""The --check row of each bad setting (exit 2 after all of them)."""
PROG: Final = "vsi-injector"
"""Program name in error lines."""

log = logging.getLogger("injector.cli")


_VALUE_FLAGS: Final = (
    ("--output-dir", "DIR", "key file directory", names.VSI_OUTPUT_DIR),
    ("--namespace", "NS", "PVC namespace", names.VSI_NAMESPACE),
    ("--seed-file", "FILE", "rook: key to migrate once", names.VSI_SEED_FILE),
    ("--verify-luks", "PATH", "LUKS device the key must unlock", names.VSI_VERIFY_LUKS),
    ("--deadline", "SECONDS", "whole-run deadline", names.VSI_DEADLINE),
    ("--key-path-template", "TEMPLATE", "volume-keys secret path", names.VSI_KEY_PATH_TEMPLATE),
    ("--file-owner", "UID[:GID]", "key file owner", names.VSI_FILE_OWNER),
    (
        "--token-file",
        "FILE",
        "kubernetes auth: the JWT file, e.g. from kubectl create token",
        names.VAULT_AUTH_KUBERNETES_TOKEN_PATH,
    ),
)
"""The flags that take one value: flag, metavar, what it is, its ``VSI_*`` variable (in --help
order)."""


EXIT_CODES_HELP: Final = (
    f"{EXIT_OK} every key file written (--check: a run would succeed); "
    f"{EXIT_FAILURE} Vault, Kubernetes, LUKS or file failure, no key file left "
    f"(--check: a run would fail); {EXIT_SETTINGS} bad settings, nothing contacted"
)
"""The exit codes as --help and docs/injector.md state them."""


ALSO_READ: Final = (names.VSI_TLS_DIR, names.VSI_KV1_ALLOW_OVERWRITE_POLICY, POD_NAMESPACE)
"""The variables a run reads that no flag names (--help lists them after the VAULT_* ones)."""


def help_epilog() -> str:
    """The end of --help: every VAULT_* setting read (from `names.VAULT_SETTINGS`), exit codes."""
    wrap = textwrap.TextWrapper(width=78, break_on_hyphens=False)
    vault = wrap.fill("VAULT_* settings read: " + ", ".join(names.VAULT_SETTINGS) + ".")
    also = wrap.fill(f"Also read: {', '.join(ALSO_READ)}.")
    return f"{vault}\n{also}\n\n" + wrap.fill(f"Exit codes: {EXIT_CODES_HELP}.")


class _Parser(argparse.ArgumentParser):
    """argparse that raises a one-line SettingsError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise SettingsError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command line; every flag also has a ``VSI_*`` variable (see docs/injector.md)."""
    p = _Parser(
        prog=PROG,
        description="Fetch or create per-volume encryption keys in Vault and write them to files.",
        epilog=help_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version(p)
    p.add_argument("--layout", choices=layouts.LAYOUTS, help=f"key layout (env {names.VSI_LAYOUT})")
    p.add_argument(
        "--volume",
        action="append",
        metavar="PVC",
        help=f"PVC name, repeatable (env {names.VSI_VOLUMES}, comma-separated)",
    )
    for flag, metavar, what, env in _VALUE_FLAGS:
        p.add_argument(flag, metavar=metavar, help=f"{what} (env {env})")
    p.add_argument(
        "--group-readable",
        action="store_const",
        const="true",
        help=f"key files 0440 instead of 0400 (env {names.VSI_FILE_GROUP_READABLE})",
    )
    p.add_argument(
        "--log-format", choices=LOG_FORMATS, help=f"log format (env {names.VSI_LOG_FORMAT})"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="report what a run would do and why it would fail; create and write nothing",
    )
    p.add_argument(
        "-o", "--output", choices=report.OUTPUT_FORMATS, help="--check report: table or json"
    )
    return p


@dataclass(frozen=True)
class Command:
    """What the command line asks for: a run, or a preflight check and how to print it."""

    settings: Settings
    """The validated settings (a check's need no output directory)."""
    check: bool
    """``--check``: report what a run would do, change nothing."""
    output: str
    """``-o``: ``table`` or ``json`` (a check's report)."""


def parse_flags(argv: Sequence[str] | None) -> tuple[Flags, bool, str]:
    """The command line alone: its `Flags`, ``--check`` and ``-o``; raises `SettingsError`."""
    values = vars(build_parser().parse_args(argv))
    check, output = bool(values.pop("check")), values.pop("output")
    if output is not None and not check:
        raise SettingsError("-o/--output: only a --check prints a report")
    return Flags(**values), check, output or "table"


def parse_command(
    argv: Sequence[str] | None,
    env: Mapping[str, str],
    *,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> Command:
    """Flags and environment into a `Command`; raises `SettingsError` (`SettingsErrors`: all)."""
    flags, check, output = parse_flags(argv)
    settings = build_settings(flags, env, check=check, service_account_dir=service_account_dir)
    return Command(settings, check, output)


def _settings_failed(exc: SettingsError, check: bool, output: str) -> int:
    """Every bad setting as one report row for ``--check``; a run's one stderr line names the
    first and counts the rest."""
    problems = exc.problems if isinstance(exc, SettingsErrors) else (str(exc),)
    if check:
        rows = [Check(SETTINGS_CHECK, FAIL, problem) for problem in problems]
        sys.stdout.write(report.render(rows, output))
        sys.stdout.flush()
    else:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
    return EXIT_SETTINGS


def _file_names(settings: Settings) -> list[str]:
    if settings.layout == layouts.ROOK:
        return [layouts.ROOK_KEY_FILE]
    return list(settings.volumes)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the injector or ``--check``; returns the exit code (0 ok, 1 failure, 2 bad settings)."""
    try:
        flags, check, output = parse_flags(argv)
    except SettingsError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    try:
        settings = build_settings(flags, os.environ, check=check)
    except SettingsError as exc:
        return _settings_failed(exc, check, output)
    logs.configure("text" if settings.log_format == "text" else "json")
    if check:
        return _check(settings, output)
    assert settings.output_dir is not None  # required for a run (injector.settings.flags)
    return _run(settings, settings.output_dir)


def _run(settings: Settings, directory: Path) -> int:
    """One run under the watchdog; every failure removes this run's key files."""
    from injector.keys import output  # imported before the watchdog can need it

    deadline = Deadline(settings.deadline)
    redactor = Redactor(settings.seed)  # the session adds tokens, credentials and keys

    def expired(message: str) -> None:
        output.remove_keys(directory, _file_names(settings))
        logs.emergency(
            log, logging.ERROR, f"{PROG}: failed: {message}", {"error": "DeadlineExceeded"}
        )

    watchdog = Watchdog(deadline, expired)
    watchdog.arm()
    try:
        run(settings, deadline, redactor)
    except BaseException as exc:
        # A key file found with other bytes is left alone (it may be the only right copy).
        keep = exc.kept if isinstance(exc, KeyFileConflict) else frozenset()
        output.remove_keys(directory, _file_names(settings), keep=keep)
        _log_failure(exc, redactor, settings.vault.auth_method)
        return EXIT_FAILURE
    finally:
        watchdog.disarm()
    return EXIT_OK


def _check(settings: Settings, output_format: str) -> int:
    """``--check``: the preflight report on stdout; exit 0 a run would succeed, 1 it would fail.

    Nothing is created in Vault and no file is written; the watchdog only reports.
    """
    from injector.check import preflight

    deadline = Deadline(settings.deadline)
    redactor = Redactor(settings.seed)

    def expired(message: str) -> None:
        logs.emergency(
            log, logging.ERROR, f"{PROG}: check failed: {message}", {"error": "DeadlineExceeded"}
        )

    watchdog = Watchdog(deadline, expired)
    watchdog.arm()
    try:
        checks = preflight.check(settings, deadline, redactor)
    except BaseException as exc:
        _log_failure(exc, redactor)
        return EXIT_FAILURE
    finally:
        watchdog.disarm()
    sys.stdout.write(report.render(checks, output_format))
    sys.stdout.flush()
    return report.exit_code(checks)


def _log_failure(exc: BaseException, redactor: Redactor, auth_method: str = "") -> None:
    """The one error line for what ended a run or a check (no traceback, no secret); a run's
    line ends with its fix (`injector.fixes`): ``kubectl describe pod`` shows this line."""
    if isinstance(exc, InjectorError):
        fix = fixes.failure_fix(exc, auth_method) if auth_method else ""
        line = redactor.scrub(str(exc) + (f"; fix: {fix}" if fix else ""))
        log.error(f"{PROG}: failed: {line}", extra=fields(error=type(exc).__name__))
    elif isinstance(exc, KeyboardInterrupt):
        log.error(f"{PROG}: interrupted", extra=fields(error="KeyboardInterrupt"))
    else:
        log.error(
            f"{PROG}: internal error ({type(exc).__name__})",
            extra=fields(error=type(exc).__name__),
        )
