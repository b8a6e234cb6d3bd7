"""``--vault``: each Vault client's connection, checked by ``vsi-injector --check`` in-process.

For every consumer (`webhook.doctor.consumers`) the settings its container would start with are
put together from the Secrets it names; the files they point to (TLS files, Rook's seed) are
written to a private temporary directory (0700, removed right after the check); the injector's own
settings code builds `injector.settings.model.Settings` from them (a bad setting is what the pod
would exit 2 with); and `injector.check.preflight.check` runs, exactly as ``vsi-injector --check``
would in that pod. With kubernetes auth the login is made as the consumer's service account with a
TokenRequest's JWT, held in memory only. Consumers with identical settings (a DaemonSet and its
pods) are checked once. Portworx names its own keys, so for it only the connection checks are kept
(TLS, login, KV mount). Every secret met (credentials, JWT, keys, seed) goes into the check's
redactor before the check runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from injector.check import preflight
from injector.deadline import Deadline
from injector.errors import SettingsError
from injector.redact import Redactor
from injector.settings.flags import Flags, build_settings
from injector.settings.model import KubernetesAuth, Settings
from vsi_common import names
from vsi_common.report import FAIL, OK, WARN, Check, Status
from webhook.doctor.cluster import Cluster
from webhook.doctor.consumers import INJECTOR, Consumer, describe_sources, secret_refs
from webhook.doctor.startup import PATH_SETTINGS, Resolved, Unresolved, dedupe_key, resolve
from webhook.doctor.state import Failed, SecretData

CONNECTION_CHECKS: Final = frozenset(
    {"tls", "tls-certificate", "tls-name", "tls-expiry", "tls-client", "auth", "kv-version"}
)
"""The ``--check`` checks kept for Portworx: the connection, not the injector's keys."""
PROBE_VOLUME: Final = "vsi-doctor-probe"
"""The volume the connection-only check of Portworx is made for (no key of it is reported)."""
TOKEN_SOURCE: Final = Path("TokenRequest")
"""`KubernetesAuth.jwt_path` of a JWT held in memory: where it came from, never read."""


def _setup(scope: str, status: Status, detail: str, fix: str = "") -> Check:
    return Check(f"vault-setup:{scope}", status, detail, fix)


def _method(env: Mapping[str, str]) -> str:
    """The auth method the injector would pick (``token`` when only VAULT_TOKEN is set)."""
    given = env.get(names.VAULT_AUTH_METHOD, "").strip().lower()
    return given or ("token" if env.get(names.VAULT_TOKEN, "").strip() else "")


async def vault_checks(
    cluster: Cluster,
    consumers: Sequence[Consumer],
    secrets: Mapping[tuple[str, str], SecretData | Failed | None],
    deadline: float | None,
) -> list[Check]:
    """The checks of every consumer's connection, in the order the consumers come."""
    wanted = {(c.workload.namespace, s) for c in consumers for s in secret_refs(c)}
    read = dict(secrets)
    read.update(await cluster.secrets(wanted - set(read)))
    groups: dict[tuple[object, ...], tuple[Consumer, Resolved, list[Consumer]]] = {}
    found: list[Check] = []
    for consumer in consumers:
        scope = f"{consumer.workload.namespace}/{consumer.label}"
        theirs = {s: read.get((consumer.workload.namespace, s)) for s in secret_refs(consumer)}
        unread = sorted(s for s, got in theirs.items() if isinstance(got, Failed))
        if unread:
            detail = f"not checked: cannot read Secrets {', '.join(unread)}"
            fix = "give the doctor's service account get on those Secrets (docs/doctor.md, RBAC)"
            found.append(_setup(scope, WARN, detail, fix))
            continue
        usable = {s: got for s, got in theirs.items() if not isinstance(got, Failed)}
        resolved = resolve(consumer, usable)
        if isinstance(resolved, Unresolved):
            found.append(_setup(scope, resolved.status, resolved.detail, resolved.fix))
            continue
        key = dedupe_key(consumer, resolved)
        if key in groups:
            groups[key][2].append(consumer)
        else:
            groups[key] = (consumer, resolved, [])
    for consumer, resolved, same in groups.values():
        found += await _check(cluster, consumer, resolved, same, deadline)
    return found


def _write(root: Path, files: Mapping[str, bytes]) -> None:
    """The consumer's files under ``root``: directories 0700, files 0600."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(0o600)


def _how(consumer: Consumer, method: str, audiences: Sequence[str]) -> str:
    if method == "kubernetes":
        aud = f" for audience {', '.join(audiences)}" if audiences else ""
        return (
            f"kubernetes auth as service account {consumer.service_account} (a TokenRequest{aud})"
        )
    if method == "approle":
        return "AppRole auth"
    return f"{names.VAULT_TOKEN} auth"


async def _check(
    cluster: Cluster,
    consumer: Consumer,
    resolved: Resolved,
    same: Sequence[Consumer],
    deadline: float | None,
) -> list[Check]:
    """One consumer's connection: its login identity, then ``--check`` in a worker thread."""
    namespace = consumer.workload.namespace
    scope = f"{namespace}/{consumer.label}"
    token: str | None = None
    if _method(resolved.env) == "kubernetes":
        got = await cluster.token(namespace, consumer.service_account, resolved.audiences)
        if got is None:
            detail = (
                f"service account {consumer.service_account} not found in {namespace}: its pods "
                "cannot be created"
            )
            return [_setup(scope, FAIL, detail, "create it (the storage system's manifests)")]
        if isinstance(got, Failed):
            fix = (
                f"give the doctor's service account create on serviceaccounts/token for "
                f"{consumer.service_account} in {namespace} (docs/doctor.md, RBAC)"
            )
            shown = fix if got.forbidden else "check the Kubernetes API server"
            return [_setup(scope, WARN, f"not checked: {got.message}", shown)]
        token = got
    run = _Run(consumer, resolved, same, token, deadline)
    return await asyncio.to_thread(run.checks)


@dataclasses.dataclass(frozen=True)
class _Run:
    """One connection check: the files in a private directory, the settings, ``--check``."""

    consumer: Consumer
    resolved: Resolved
    same: Sequence[Consumer]
    token: str | None = dataclasses.field(repr=False)
    deadline: float | None

    @property
    def scope(self) -> str:
        return f"{self.consumer.workload.namespace}/{self.consumer.label}"

    def checks(self) -> list[Check]:
        """Blocking: file writes, then the injector's own check (urllib3)."""
        redactor = Redactor(*self.resolved.secrets, self.token)
        with tempfile.TemporaryDirectory(prefix="vsi-doctor-") as tmp:
            root = Path(tmp)
            root.chmod(0o700)

            def shown(text: str) -> str:  # the container's paths, not the temporary ones
                for directory, path in self.resolved.mounts.items():
                    text = text.replace(str(root / directory), path)
                return text

            try:
                settings = self._settings(root)
            except SettingsError as exc:
                who = (
                    "the injector would exit 2 at start"
                    if self.consumer.mode == INJECTOR
                    else "Portworx would not connect"
                )
                detail = f"{who}: {shown(redactor.scrub(str(exc)))}"
                sources = describe_sources(self.resolved.sources)
                return [
                    _setup(
                        self.scope, FAIL, detail, f"fix that setting ({sources}, or the profile)"
                    )
                ]
            redactor.add(settings.seed)
            limit = Deadline(min(self.deadline, settings.deadline)) if self.deadline else None
            checks = [
                Check(c.name, c.status, shown(c.detail), shown(c.fix))
                for c in preflight.check(settings, limit, redactor)
            ]
        method = _method(self.resolved.env)
        summary = _summary(self.consumer, self.resolved, settings, method, self.same)
        return [_setup(self.scope, OK, summary)] + [
            _renamed(self.scope, check, self.consumer, method)
            for check in checks
            if self.consumer.mode == INJECTOR or check.name in CONNECTION_CHECKS
        ]

    def _settings(self, root: Path) -> Settings:
        """The injector's settings from the consumer's variables and files under ``root``."""
        env = dict(self.resolved.env)
        _write(root, self.resolved.files)
        for setting in PATH_SETTINGS:
            if env.get(setting):
                env[setting] = str(root / env[setting])
        accounts = root / "serviceaccount"
        accounts.mkdir(mode=0o700)
        placeholder = accounts / "token"
        placeholder.write_text("")  # never read: the JWT is held in memory
        env[names.VAULT_AUTH_KUBERNETES_TOKEN_PATH] = str(placeholder)
        flags = Flags()
        if self.consumer.mode != INJECTOR:
            env[names.VSI_NAMESPACE] = self.consumer.workload.namespace
            flags = Flags(layout=names.LAYOUT_VOLUME_KEYS, volume=[PROBE_VOLUME])
        settings = build_settings(flags, env, check=True, service_account_dir=accounts)
        return _with_token(settings, self.token)


def _with_token(settings: Settings, token: str | None) -> Settings:
    """The settings with the TokenRequest's JWT in place of the pod's token file."""
    if token is None:
        return settings
    auth = settings.vault.auth
    assert isinstance(auth, KubernetesAuth)  # the method was kubernetes
    held = KubernetesAuth(role=auth.role, jwt_path=TOKEN_SOURCE, mount=auth.mount, jwt=token)
    return dataclasses.replace(settings, vault=dataclasses.replace(settings.vault, auth=held))


def _summary(
    consumer: Consumer,
    resolved: Resolved,
    settings: Settings,
    method: str,
    same: Sequence[Consumer],
) -> str:
    how = _how(consumer, method, resolved.audiences)
    sources = describe_sources(resolved.sources)
    detail = f"checked as {consumer.label} connects: {how}, settings from {sources}"
    if consumer.mode == INJECTOR:
        detail += f"; layout {settings.layout}, volumes {', '.join(settings.volumes)}"
    else:
        detail += "; Portworx names its own keys, so only the connection is checked"
    if same:
        detail += f"; the same settings as {', '.join(c.label for c in same)}"
    return detail


def _renamed(scope: str, check: Check, consumer: Consumer, method: str) -> Check:
    """A ``--check`` check under the doctor's name, its fix naming the consumer's identity."""
    fix = check.fix
    if check.name == "auth" and check.status == FAIL and method == "kubernetes":
        fix += (
            f" (here: service account {consumer.service_account} in namespace "
            f"{consumer.workload.namespace})"
        )
    return Check(f"vault:{scope}/{check.name}", check.status, check.detail, fix)
