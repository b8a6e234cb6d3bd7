"""``vsi-injector``: the init container's entry point and the one place errors become exit codes.

Exit codes: 0 every key file written; 2 bad settings (found before any network call); 1 anything
else (Vault, Kubernetes, LUKS or file failures, or the deadline), after removing every key file of
this run. The user sees one line; no traceback, no secret. A watchdog ends a run that outlives its
deadline (a server trickling bytes defeats per-read timeouts) the same way. hvac, requests and
kubernetes_asyncio are imported only after the settings are valid, and kubernetes_asyncio only for
templates that need the PV.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from injector import layouts
from injector.deadline import Deadline, Watchdog
from injector.errors import InjectorError, SettingsError
from injector.layouts import KeySpec
from injector.model import Settings
from injector.settings import parse
from vsi_common import logs
from vsi_common.logs import fields

if TYPE_CHECKING:
    from injector.keys import LuksGuard

EXIT_OK: Final = 0
"""All key files written."""
EXIT_FAILURE: Final = 1
"""Vault, Kubernetes, LUKS or file failure; no key file left."""
EXIT_SETTINGS: Final = 2
"""A missing or invalid setting; nothing was contacted."""
PROG: Final = "vsi-injector"
"""Program name in error lines."""

log = logging.getLogger("injector.cli")


def key_specs(settings: Settings, remaining: float) -> list[KeySpec]:
    """Each volume's KeySpec; reads the bound PVs first when the template needs them."""
    if settings.layout == layouts.ROOK:
        return [layouts.rook_spec(volume) for volume in settings.volumes]
    namespace = settings.namespace or ""
    bound = {}
    if settings.kube_fields:
        from injector import kube

        need_handle = "{volume_handle}" in settings.key_path_template
        bound = kube.resolve_sync(namespace, settings.volumes, remaining, need_handle)
    specs = []
    for volume in settings.volumes:
        pv = bound[volume].pv if volume in bound else ""
        handle = bound[volume].volume_handle if volume in bound else ""
        try:
            specs.append(
                layouts.volume_keys_spec(
                    settings.key_path_template,
                    namespace=namespace,
                    pvc=volume,
                    pv=pv,
                    volume_handle=handle,
                )
            )
        except ValueError as exc:
            raise InjectorError(str(exc)) from None
    return specs


def luks_guard(settings: Settings, deadline: Deadline) -> tuple[LuksGuard | None, str]:
    """The LUKS guard when --verify-luks names a formatted volume, and the state to log."""
    from injector.keys import LuksGuard

    device = settings.verify_luks
    if device is None:
        return None, "not-checked"
    from injector import luks

    deadline.doing(f"reading the LUKS header of {device}")
    if not luks.has_header(device, deadline.remaining):
        return None, "no-luks-header"

    def check(content: bytes, source: str) -> None:
        deadline.doing(f"checking the key against the LUKS volume {device}")
        luks.check_key(device, content, deadline.remaining, source)

    return LuksGuard(str(device), check), "unlocks"


def run(settings: Settings, deadline: Deadline | None = None) -> None:
    """Fetch or create every key (LUKS-checked first if asked), write the files.

    Raises InjectorError.
    """
    from injector import output
    from injector.keys import KvStore, fetch_all
    from injector.vault import VaultSession

    started = time.monotonic()
    deadline = deadline or Deadline(settings.deadline)
    deadline.doing(f"removing stale temporary files in {settings.output_dir}")
    output.remove_temps(settings.output_dir)
    deadline.doing("resolving the key paths")
    specs = key_specs(settings, deadline.remaining())
    guard, luks_state = luks_guard(settings, deadline)
    vault = settings.vault
    session = VaultSession(vault, deadline, pool_size=len(specs))
    try:
        session.login()
        version = vault.kv_version or session.kv_version(vault.backend_path, specs[0].secret_path)
        store = KvStore(session, vault.backend_path, version, settings.kv1_allow_overwrite)
        keys = fetch_all(store, specs, settings.layout, settings.seed, guard=guard)
    finally:
        session.close()

    deadline.doing(f"writing the key files to {settings.output_dir}")
    options = output.FileOptions(
        mode=output.GROUP_READABLE if settings.group_readable else output.OWNER_ONLY,
        uid=settings.file_uid,
        gid=settings.file_gid,
    )
    output.write_keys(
        settings.output_dir, [output.KeyFile(k.spec.file_name, k.content) for k in keys], options
    )
    for key in keys:
        log.info(
            "key ready",
            extra=fields(
                volume=key.spec.volume,
                key_path=key.vault_path,
                outcome=key.outcome,
                kv_version=key.kv_version,
                latency_ms=key.latency_ms,
                file=str(settings.output_dir / key.spec.file_name),
                luks=luks_state,
            ),
        )
    log.info(
        "all keys written",
        extra=fields(
            layout=settings.layout,
            volumes=len(keys),
            keys_created=sum(k.outcome == "created" for k in keys),
            keys_read=sum(k.outcome == "read" for k in keys),
            keys_migrated=sum(k.outcome == "migrated" for k in keys),
            kv_version=keys[0].kv_version,
            auth_method=vault.auth_method,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        ),
    )


def _file_names(settings: Settings) -> list[str]:
    if settings.layout == layouts.ROOK:
        return [layouts.ROOK_KEY_FILE]
    return list(settings.volumes)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the injector; returns the exit code (0 ok, 1 failure, 2 bad settings)."""
    try:
        settings = parse(argv, os.environ)
    except SettingsError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    logs.configure("text" if settings.log_format == "text" else "json")
    from injector import output  # imported before the watchdog can need it

    deadline = Deadline(settings.deadline)

    def expired(message: str) -> None:
        output.remove_keys(settings.output_dir, _file_names(settings))
        logs.emergency(
            log, logging.ERROR, f"{PROG}: failed: {message}", {"error": "DeadlineExceeded"}
        )

    watchdog = Watchdog(deadline, expired)
    watchdog.arm()
    try:
        run(settings, deadline)
    except BaseException as exc:
        output.remove_keys(settings.output_dir, _file_names(settings))
        if isinstance(exc, InjectorError):
            log.error(f"{PROG}: failed: {exc}", extra=fields(error=type(exc).__name__))
        elif isinstance(exc, KeyboardInterrupt):
            log.error(f"{PROG}: interrupted", extra=fields(error="KeyboardInterrupt"))
        else:
            log.error(
                f"{PROG}: internal error ({type(exc).__name__})",
                extra=fields(error=type(exc).__name__),
            )
        return EXIT_FAILURE
    finally:
        watchdog.disarm()
    return EXIT_OK
