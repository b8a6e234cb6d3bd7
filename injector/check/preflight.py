"""``vsi-injector --check``: what a run with these settings would do, and why it would fail.

`check` is the whole preflight as one function: the run's `Settings` in, the report's checks
(`vsi_common.report.Check`) out; it prints nothing, exits nothing, and raises only for a bug.
``vsi-webhook doctor --vault`` calls it in-process with each profile's settings. Every step is the
run's own step, asked through the same code: the key paths (`run.key_specs`), the LUKS probe
(`run.luks_guard`), the session and its login, the KV mount (`run.open_store`), then each key
(`injector.check.keys`, which asks the run's decisions in `injector.keys.policy`). What only a check
asks: the TLS facts of the connection (`injector.check.tls`), the token's lookup and capabilities
(``sys/capabilities-self``), the mount's ``cas_required`` and, when an output directory is given,
whether the key files could be written there.

Nothing is created and nothing is written: no create or write endpoint is called, no file is
written or removed (a run's clean-up of stale temporary files is skipped too). A kubernetes or
approle login still mints a token, as any login does. Every detail is scrubbed through the run's
redactor, which holds the token, the credentials and every key read.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from injector import fixes, layouts, run
from injector.check import tls
from injector.check.keys import KeyState, Volumes, volume
from injector.deadline import Deadline
from injector.errors import InjectorError, KubernetesError
from injector.keys.policy import LuksGuard
from injector.layouts import KeySpec
from injector.redact import Redactor
from injector.settings.model import KubernetesAuth, Settings, TokenAuth
from injector.vault.endpoints import Denied
from injector.vault.kv import KvStore
from injector.vault.session import VaultSession
from injector.vault.transport import CONNECT_TIMEOUT
from vsi_common import names
from vsi_common.report import FAIL, OK, WARN, Check

CHECK_NAMES: Final = frozenset(
    {
        "settings",
        "key-paths",
        "luks",
        "tls",
        "tls-certificate",
        "tls-name",
        "tls-expiry",
        "tls-client",
        "auth",
        "kv-version",
        "capabilities",
        "key",
        "access",
        "create-only",
        "seed",
        "cas-required",
        "output-dir",
        "key-file",
    }
)
"""Every check --check reports (per volume: ``<name>:<pvc>``); docs/troubleshooting.md maps
each to its fix, and the tests hold both to this list."""


def check(
    settings: Settings, deadline: Deadline | None = None, redactor: Redactor | None = None
) -> list[Check]:
    """The preflight report for ``settings``: one `Check` per fact, in the order a run meets them.

    ``deadline`` bounds the whole check as it bounds a run (default: the settings' deadline);
    ``redactor`` collects the secrets met on the way (default: a new one with the seed). A failing
    check means a run would fail; its ``fix`` says what to change.
    """
    deadline = deadline or Deadline(settings.deadline)
    redactor = redactor if redactor is not None else Redactor(settings.seed)
    found: list[Check] = []
    _preflight(settings, deadline, redactor, found)
    return [Check(c.name, c.status, redactor.scrub(c.detail), redactor.scrub(c.fix)) for c in found]


def _preflight(
    settings: Settings, deadline: Deadline, redactor: Redactor, found: list[Check]
) -> None:
    """The steps in a run's order; a step whose failure ends a run ends the check too."""
    specs = _specs(settings, deadline, found)
    guard = _luks_header(settings, deadline, found)
    if specs is None or not _tls(settings, deadline, found):
        return
    session = VaultSession(settings.vault, deadline, pool_size=2, redactor=redactor, fail_fast=True)
    try:
        if not _auth(session, found):
            return
        store = _store(session, settings, specs[0].secret_path, found)
        if store is None:
            return
        volumes = Volumes(
            store=store,
            layout=settings.layout,
            seed=settings.seed,
            seed_file=settings.seed_file,
            template=settings.key_path_template,
            guard=guard,
            capabilities=_capabilities(session, store, specs, found),
            kv1_allow_overwrite=settings.kv1_allow_overwrite,
        )
        states = []
        for spec in specs:
            deadline.doing(f"checking the key of {spec.volume}")
            states.append(volume(volumes, spec))
            found.extend(states[-1].checks)
        if store.version == 2:
            found.append(_cas(settings, store, states))
        found.extend(key_file_checks(settings.output_dir, states))
    finally:
        session.close()


def _specs(settings: Settings, deadline: Deadline, found: list[Check]) -> list[KeySpec] | None:
    """``key-paths``: each volume's key path (a run reads the bound PVs for some templates)."""
    deadline.doing("resolving the key paths")
    shared = _shared_template(settings)
    if shared is not None:
        found.append(shared)
    try:
        return run.key_specs(settings, deadline.remaining())
    except InjectorError as exc:
        fix = (
            "the PVC must be bound, and this service account may get persistentvolumeclaims "
            "and persistentvolumes"
            if isinstance(exc, KubernetesError)
            else f"fix --key-path-template / {names.VSI_KEY_PATH_TEMPLATE}"
        )
        found.append(Check("key-paths", FAIL, str(exc), fix))
        return None


def _shared_template(settings: Settings) -> Check | None:
    """``key-paths`` (warn): a volume-keys template without ``{namespace}``. Vault isolates
    tenants by a policy templated on the namespace of the service account that logged in
    (manifests/examples/volume-keys/vault/setup.sh), which only a path under the namespace
    can match."""
    if settings.layout != layouts.VOLUME_KEYS:
        return None
    template = settings.key_path_template
    if "namespace" in layouts.template_fields(template):
        return None
    return Check(
        "key-paths",
        WARN,
        f"the key path template {template!r} has no {{namespace}}: Vault's per-namespace policy "
        "cannot keep one namespace from another's keys",
        f"start --key-path-template / {names.VSI_KEY_PATH_TEMPLATE} with "
        "vault-storage-injector/{namespace}/",
    )


def _luks_header(settings: Settings, deadline: Deadline, found: list[Check]) -> LuksGuard | None:
    """``luks``: with --verify-luks, the header probe a run makes before it asks Vault."""
    device = settings.verify_luks
    if device is None:
        return None
    try:
        guard, _state = run.luks_guard(settings, deadline)
    except InjectorError as exc:
        found.append(Check("luks", FAIL, str(exc), "check --verify-luks and that cryptsetup runs"))
        return None
    if guard is None:
        detail = f"{device} has no LUKS header (not formatted yet): a run passes any key"
        found.append(Check("luks", OK, detail))
    return guard


def _tls(settings: Settings, deadline: Deadline, found: list[Check]) -> bool:
    """The ``tls-*`` checks; False when a run would fail at the handshake."""
    vault = settings.vault
    if vault.origin.scheme != "https":
        found.append(tls.plain_http(vault.addr))
        return True
    deadline.doing("reading Vault's TLS certificate")
    checks = tls.diagnose(vault, min(CONNECT_TIMEOUT, max(deadline.remaining(), 0.1)))
    found.extend(checks)
    return not any(c.status == FAIL for c in checks)


def _auth_fix(session: VaultSession, error: str) -> str:
    """What to change when the login or the token is refused."""
    auth = session.settings.auth
    if "unreachable" in error or "TLS" in error:
        return fixes.connection_fix(error)
    if "gave up" in error:
        return f"check that Vault is up and unsealed ({names.VAULT_ADDR}); or raise --deadline"
    if isinstance(auth, TokenAuth):
        return (
            f"set {names.VAULT_TOKEN} (the connection Secret's key) to a valid token with the "
            "default policy, and renew it in time: the injector does not renew tokens"
        )
    if isinstance(auth, KubernetesAuth):
        return (
            f"the Vault role auth/{auth.mount}/role/{auth.role} must bind this service account "
            f"and namespace, and auth/{auth.mount}/config must reach the TokenReview API"
        )
    return (
        f"check {names.VAULT_APPROLE_ROLE_ID} and {names.VAULT_APPROLE_SECRET_ID} (a secret_id "
        "with limited uses may be spent)"
    )


def _ttl(seconds: int | None) -> str:
    if seconds is None:
        return "ttl not given"
    if seconds == 0:
        return "no expiry"
    return f"expires in {dt.timedelta(seconds=seconds)}"


def _auth(session: VaultSession, found: list[Check]) -> bool:
    """``auth``: log in as a run does, then ask what the token is (``lookup-self``)."""
    vault = session.settings
    try:
        session.login()
        info = session.token_lookup()
    except InjectorError as exc:
        found.append(Check("auth", FAIL, str(exc), _auth_fix(session, str(exc))))
        return False
    if info is None:
        # A run never asks lookup-self: a token without the default policy still reads and
        # creates keys, and a dead one fails the key checks that follow.
        detail = (
            "auth/token/lookup-self was denied: the token is expired or revoked, or was made "
            "without the default policy (a run does not need it; the key checks below tell which)"
        )
        found.append(Check("auth", WARN, detail, _auth_fix(session, detail)))
        return True
    auth = vault.auth
    if isinstance(auth, TokenAuth):
        how = f"{names.VAULT_TOKEN} accepted"
    elif isinstance(auth, KubernetesAuth):
        how = f"kubernetes login at auth/{auth.mount} as role {auth.role!r}"
    else:
        how = f"approle login at auth/{auth.mount}"
    policies = ", ".join(info.policies) or "none"
    found.append(Check("auth", OK, f"{how}; token policies: {policies}; {_ttl(info.ttl)}"))
    return True


def _store(
    session: VaultSession, settings: Settings, probe: str, found: list[Check]
) -> KvStore | None:
    """``kv-version``: the mount as a run opens it; VAULT_BACKEND checked against the mount."""
    vault = settings.vault
    mount = vault.backend_path
    try:
        store = run.open_store(session, settings, probe)
    except InjectorError as exc:
        fix = (
            f"grant a capability on the key paths, or read on sys/mounts; or set "
            f"{names.VAULT_BACKEND}=kv or kv-v2 (and check {names.VAULT_BACKEND_PATH})"
        )
        found.append(Check("kv-version", FAIL, str(exc), fix))
        return None
    if vault.kv_version is None:
        found.append(Check("kv-version", OK, f"mount {mount!r} is KV v{store.version} (detected)"))
        return store
    try:
        seen = session.mount(mount, probe)
    except InjectorError:
        seen = None
    said = f"{names.VAULT_BACKEND} says KV v{store.version}"
    if seen is None:
        found.append(Check("kv-version", OK, f"{said}; the mount could not be looked up"))
    elif seen.type not in ("kv", "generic") or seen.kv_version != store.version:
        actual = f"KV v{seen.kv_version}" if seen.type in ("kv", "generic") else repr(seen.type)
        right = "kv" if seen.kv_version == 1 else "kv-v2"
        fix = f"set {names.VAULT_BACKEND}={right}, or unset it to detect the version"
        found.append(Check("kv-version", FAIL, f"{said}, but mount {mount!r} is {actual}", fix))
        return None
    else:
        found.append(Check("kv-version", OK, f"{said}, as mount {mount!r} is"))
    return store


def _capabilities(
    session: VaultSession, store: KvStore, specs: Sequence[KeySpec], found: list[Check]
) -> dict[str, frozenset[str]] | None:
    """The token's capabilities on every key path (and KV v2 metadata path), asked once."""
    paths = [store.api_path(s.secret_path) for s in specs]
    if store.version == 2:
        paths += [store.metadata_path(s.secret_path) for s in specs]
    try:
        return session.capabilities(list(dict.fromkeys(paths)))
    except InjectorError as exc:
        found.append(
            Check(
                "capabilities",
                WARN,
                f"{exc}; read and create were not checked ahead (the key checks show what Vault "
                "answers)",
                "give the token the default policy, which grants sys/capabilities-self",
            )
        )
        return None


def _cas(settings: Settings, store: KvStore, states: Sequence[KeyState]) -> Check:
    """``cas-required`` (KV v2): harmless to a run, fatal to Rook's own writes in its KMS mode."""
    kms = settings.layout == layouts.ROOK and settings.seed is None
    try:
        read = store.config()
    except InjectorError:
        read = None
    config = None if isinstance(read, Denied) else read
    keys = [s.spec.volume for s in states if s.cas_required]
    mount = store.mount
    rook = (
        "in Rook's KMS mode (the rook layout without a seed file) Rook's operator writes the "
        "OSD keys without check-and-set, so its writes there fail"
    )
    if config is None:
        detail = f"could not read {mount}/config (the token may not): cas_required unknown"
        if kms:
            return Check(
                "cas-required",
                WARN,
                f"{detail}; {rook} if it is true",
                f"grant read on {mount}/config to check it; it must be false for Rook's KMS mode",
            )
        return Check("cas-required", OK, detail)
    if not config.cas_required and not keys:
        return Check("cas-required", OK, f"cas_required is false on mount {mount!r}")
    where = f"mount {mount!r}" if config.cas_required else f"the metadata of {', '.join(keys)}"
    if kms:
        return Check(
            "cas-required",
            WARN,
            f"cas_required=true on {where}: {rook}",
            f"vault write {mount}/config cas_required=false (and "
            "vault kv metadata put -cas-required=false on the keys that set it)",
        )
    return Check(
        "cas-required",
        OK,
        f"cas_required=true on {where}: every write needs check-and-set, which a run's "
        "create-only writes (cas=0) carry",
    )


def key_file_checks(directory: Path | None, states: Sequence[KeyState]) -> list[Check]:
    """``output-dir`` and ``key-file:*`` (only with --output-dir): could the files be written?"""
    if directory is None:
        return []
    from injector.errors import OutputError
    from injector.keys import output

    if not os.access(directory, os.W_OK | os.X_OK):
        detail = f"{directory} is not writable for uid {os.getuid()}"
        fix = "mount the in-memory volume writable for the injector's user"
        return [Check("output-dir", FAIL, detail, fix)]
    checks = [Check("output-dir", OK, f"{directory} is writable")]
    for state in states:
        name, target = f"key-file:{state.spec.volume}", directory / state.spec.file_name
        if not os.path.lexists(target) or state.outcome is None:
            continue
        if state.content is None:  # a new random key: an existing file can never match it
            detail = f"{target} already exists, and a run would create a new key for it"
            checks.append(Check(name, FAIL, detail, f"remove {target} once you know its origin"))
            continue
        try:
            output.check_existing(directory, [output.KeyFile(target.name, state.content)])
        except OutputError as exc:
            checks.append(Check(name, FAIL, str(exc), f"remove {target} once you know its origin"))
        else:
            checks.append(Check(name, OK, f"{target} already holds this key: a run keeps it"))
    return checks
