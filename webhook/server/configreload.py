"""The profiles in use, reloaded when the ``--config`` file changes.

The profiles come from a ConfigMap volume that Kubernetes updates in place (a ``..data`` symlink
swap); an admin expects an edit to take effect without restarting the webhook, and a broken edit to
change nothing. The file is polled by content; a changed file goes through the same loader as at
start-up, and only a file that loads replaces the mutator. A refused file is logged, counted and
shown by ``/readyz`` while the last good profiles keep serving.

Reading it can neither hang nor balloon: the reloader reads only a regular file of at most
`MAX_PROFILES_BYTES` (`vsi_common.files.read_regular_file`) and hands the loader its text (the
loader never opens the path), and each check runs in a daemon thread under a timeout
(`webhook.server.blocking`). Checks that keep timing out make ``/readyz`` unready after
`STUCK_CHECKS_UNREADY` of them: the webhook could no longer follow the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from vsi_common.files import MIB, UnreadableFile, read_regular_file
from vsi_common.logs import fields
from webhook.core.model import Mutator
from webhook.errors import ConfigError, WebhookError
from webhook.server.blocking import Offloader, TimedOut, TooManyStuck
from webhook.server.settings import DEFAULT_RELOAD_TIMEOUT

log = logging.getLogger(__name__)

MAX_PROFILES_BYTES: Final = MIB
"""Largest profiles file read; the shipped one is 2 KiB."""
STUCK_CHECKS_UNREADY: Final = 3
"""Checks in a row that did not finish in time after which ``/readyz`` turns unready."""


@dataclass(frozen=True)
class ProfilesFile:
    """The profiles file as the reloader read it: a loader parses ``text``, never the path."""

    source: str
    """The path, as error messages name it."""
    text: str


@dataclass(frozen=True)
class LoadedConfig:
    """What one load of the profiles gives the server."""

    mutator: Mutator
    secret_names: frozenset[str] = frozenset()
    """Secrets the profiles reference: the caches watch these for warnings."""


MutatorLoader = Callable[[ProfilesFile | None], LoadedConfig]
"""Load the profiles file's text (None: built-in profiles) into a mutator; raises `ConfigError`."""


def default_loader(file: ProfilesFile | None) -> LoadedConfig:
    """The production loader: `webhook.core.config.parse_config`, then `build_mutator`."""
    from webhook.core.config import load_config, parse_config
    from webhook.core.mutation import build_mutator

    config = load_config(None) if file is None else parse_config(file.text, source=file.source)
    return LoadedConfig(mutator=build_mutator(config), secret_names=config.secret_names)


def read_profiles(path: Path) -> tuple[ProfilesFile, str]:
    """The file's text and the SHA-256 of its bytes; `ConfigError` (one line) when unusable."""
    try:
        data = read_regular_file(path, max_bytes=MAX_PROFILES_BYTES)
    except UnreadableFile as exc:
        raise ConfigError(f"cannot use the profiles file: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the profiles file is not UTF-8 text") from None
    return ProfilesFile(str(path), text), hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class _Checked:
    """One check of the file: its digest, and what loading it gave (None: unchanged)."""

    digest: str
    loaded: LoadedConfig | None = None
    error: str | None = None


class ConfigReloader:
    """Holds the current mutator and replaces it when the profiles file changes and loads."""

    def __init__(
        self,
        path: Path | None,
        loader: MutatorLoader,
        *,
        on_reload: Callable[[str], None] | None = None,
        check_timeout: float = DEFAULT_RELOAD_TIMEOUT,
    ) -> None:
        self.path = path
        self._loader = loader
        self._on_reload = on_reload
        """Called with ``success``, ``failure`` or ``timeout`` for each reload or refusal."""
        self.on_loaded: Callable[[frozenset[str]], None] | None = None
        """Called on the event loop with the Secret names of every reloaded profiles file."""
        self._loaded: LoadedConfig | None = None
        self._digest: str | None = None
        self._last_error: str | None = None
        self._timeout_error: str | None = None
        self._stuck = 0
        self._checks = Offloader("profiles check", check_timeout)

    @property
    def loaded(self) -> LoadedConfig:
        """The profiles in use; `load_initial` must have succeeded."""
        if self._loaded is None:
            raise RuntimeError("profiles not loaded yet")
        return self._loaded

    @property
    def is_loaded(self) -> bool:
        """Whether `load_initial` succeeded."""
        return self._loaded is not None

    @property
    def mutator(self) -> Mutator:
        """The mutator of the profiles in use."""
        return self.loaded.mutator

    @property
    def last_error(self) -> str | None:
        """Why the latest change of the file was refused (or its checks time out); None when the
        file in use is current."""
        return self._timeout_error or self._last_error

    def readiness(self) -> str | None:
        """None when ready, else why not: not loaded yet, or checks that keep timing out."""
        if self._loaded is None:
            return "profiles not loaded yet"
        if self._stuck >= STUCK_CHECKS_UNREADY:
            return f"profiles file checks did not finish {self._stuck} times in a row"
        return None

    def _first(self) -> tuple[LoadedConfig, str | None]:
        if self.path is None:
            return self._loader(None), None
        file, digest = read_profiles(self.path)
        return self._loader(file), digest

    async def load_initial(self) -> LoadedConfig:
        """Load at start-up; a `ConfigError` propagates: the server does not start on a bad file."""
        try:
            loaded, self._digest = await self._checks.run(self._first)
        except TimedOut:
            raise ConfigError(
                f"{self.path}: reading the profiles file did not finish within "
                f"{self._checks.timeout:g} s"
            ) from None
        self._loaded = loaded
        log.info("profiles loaded", extra=fields(config=str(self.path or "built-in")))
        return loaded

    def check(self) -> _Checked | None:
        """Read the file; load it when its content changed. None when there is no file.

        Blocking: `watch` runs it in a thread.
        """
        if self.path is None:
            return None
        try:
            file, digest = read_profiles(self.path)
        except ConfigError as exc:
            return _Checked(digest=f"unreadable: {exc}", error=str(exc))
        if digest == self._digest:
            return _Checked(digest=digest)
        try:
            return _Checked(digest=digest, loaded=self._loader(file))
        except WebhookError as exc:
            return _Checked(digest=digest, error=str(exc))
        except Exception as exc:
            log.exception("profiles loader crashed")
            return _Checked(
                digest=digest, error=f"loading the profiles failed ({type(exc).__name__})"
            )

    def poll(self) -> bool:
        """`check` once, here, and apply it. True when a new mutator is now in use."""
        return self._apply(self.check())

    def _apply(self, checked: _Checked | None) -> bool:
        self._stuck = 0
        self._timeout_error = None
        if checked is None or checked.digest == self._digest:
            return False
        self._digest = checked.digest
        if checked.loaded is None:
            self._refused(checked.error or "refused", "failure")
            return False
        self._loaded = checked.loaded
        self._last_error = None
        if self._on_reload is not None:
            self._on_reload("success")
        log.info("profiles reloaded", extra=fields(config=str(self.path)))
        if self.on_loaded is not None:
            self.on_loaded(checked.loaded.secret_names)
        return True

    def _refused(self, message: str, result: str) -> None:
        """Count and log one refused change of the file, or the first check of a stuck streak."""
        if result == "timeout":
            self._timeout_error = message
        else:
            self._last_error = message
        if self._on_reload is not None:
            self._on_reload(result)
        log.warning(
            "profiles file refused; still serving the previous profiles",
            extra=fields(config=str(self.path), error=message),
        )

    async def watch(self, interval: float) -> None:
        """Check every ``interval`` seconds, in a daemon thread, under the check timeout."""
        while True:
            await asyncio.sleep(interval)
            try:
                checked = await self._checks.run(self.check)
            except (TimedOut, TooManyStuck) as exc:
                self._stuck += 1
                if self._stuck == 1:
                    self._refused(str(exc), "timeout")
            except Exception:
                log.exception("profiles check crashed; will retry")
            else:
                self._apply(checked)
