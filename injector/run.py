"""One run of the injector: resolve the key paths, get or create every key, write the files.

`injector.cli` calls `run` with valid `Settings` and maps what it raises to exit codes. The I/O
shells are imported here, inside the functions that need them: the Vault session (hvac, requests)
once a run starts, `injector.keys.kube` (kubernetes_asyncio) only for key path templates that need
the bound PV, `injector.keys.luks` only with ``--verify-luks``. Importing this module stays cheap,
so a settings error never pays for a client library (tests/unit/injector/test_cli.py and
test_run.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from injector import layouts
from injector.deadline import Deadline
from injector.errors import InjectorError
from injector.layouts import KeySpec
from injector.redact import Redactor
from injector.settings.model import Settings
from vsi_common.logs import fields

if TYPE_CHECKING:
    from injector.keys.policy import FetchedKey, KvStore, LuksGuard
    from injector.vault.session import VaultSession

# The run's log lines were logged as "injector.cli" before the run had its own module; the name
# is a field of every JSON line, so it stays what log queries already filter on.
log = logging.getLogger("injector.cli")


def key_specs(settings: Settings, remaining: float) -> list[KeySpec]:
    """Each volume's KeySpec; reads the bound PVs first when the template needs them."""
    if settings.layout == layouts.ROOK:
        return [layouts.rook_spec(volume) for volume in settings.volumes]
    namespace = settings.namespace or ""
    bound = {}
    if settings.kube_fields:
        from injector.keys import kube

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
    from injector.keys.policy import LuksGuard

    device = settings.verify_luks
    if device is None:
        return None, "not-checked"
    from injector.keys import luks

    deadline.doing(f"reading the LUKS header of {device}")
    if not luks.has_header(device, deadline.remaining):
        return None, "no-luks-header"

    def check(content: bytes, source: str) -> None:
        deadline.doing(f"checking the key against the LUKS volume {device}")
        luks.check_key(device, content, deadline.remaining, source)

    return LuksGuard(str(device), check), "unlocks"


def open_store(session: VaultSession, settings: Settings, probe: str) -> KvStore:
    """The KV mount of the keys: its version from VAULT_BACKEND, else detected (``probe`` is a
    key path under it); a run and a preflight check both open it here."""
    from injector.keys.policy import KvStore

    vault = settings.vault
    version = vault.kv_version or session.kv_version(vault.backend_path, probe)
    return KvStore(session, vault.backend_path, version, settings.kv1_allow_overwrite)


def run(
    settings: Settings, deadline: Deadline | None = None, redactor: Redactor | None = None
) -> None:
    """Fetch or create every key (LUKS-checked first if asked), write the files.

    ``redactor`` collects the run's secrets as they appear (the caller quotes errors through it).
    Raises InjectorError.
    """
    from injector.keys import output
    from injector.keys.policy import fetch_all
    from injector.vault.session import VaultSession

    started = time.monotonic()
    directory = settings.output_dir
    if directory is None:
        raise InjectorError("a run needs --output-dir (only --check goes without)")
    deadline = deadline or Deadline(settings.deadline)
    deadline.doing(f"removing stale temporary files in {directory}")
    output.remove_temps(directory)
    deadline.doing("resolving the key paths")
    specs = key_specs(settings, deadline.remaining())
    guard, luks_state = luks_guard(settings, deadline)
    vault = settings.vault
    session = VaultSession(vault, deadline, pool_size=len(specs), redactor=redactor)
    try:
        session.login()
        store = open_store(session, settings, specs[0].secret_path)
        keys = fetch_all(store, specs, settings.layout, settings.seed, guard=guard)
    finally:
        session.close()

    deadline.doing(f"writing the key files to {directory}")
    options = output.FileOptions(
        mode=output.GROUP_READABLE if settings.group_readable else output.OWNER_ONLY,
        uid=settings.file_uid,
        gid=settings.file_gid,
    )
    output.write_keys(
        directory, [output.KeyFile(k.spec.file_name, k.content) for k in keys], options
    )
    _log_keys(settings, directory, keys, luks_state, started)


def _log_keys(
    settings: Settings,
    directory: Path,
    keys: Sequence[FetchedKey],
    luks_state: str,
    started: float,
) -> None:
    """One line per key written, then the run's summary (no key material in either)."""
    for key in keys:
        log.info(
            "key ready",
            extra=fields(
                volume=key.spec.volume,
                key_path=key.vault_path,
                outcome=key.outcome,
                kv_version=key.kv_version,
                latency_ms=key.latency_ms,
                file=str(directory / key.spec.file_name),
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
            auth_method=settings.vault.auth_method,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        ),
    )
