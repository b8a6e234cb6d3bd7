"""The profiles in use, reloaded when the ``--config`` file changes.

The profiles come from a ConfigMap volume that Kubernetes updates in place (a ``..data`` symlink
swap); an admin expects an edit to take effect without restarting the webhook, and a broken edit to
change nothing. The file is polled by content; a changed file goes through the same loader as at
start-up, and only a file that loads replaces the mutator. A refused file is logged, counted and
shown by ``/readyz`` while the last good profiles keep serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vsi_common.logs import fields
from webhook.core.model import Mutator
from webhook.errors import WebhookError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedConfig:
    """What one load of the profiles gives the server."""

    mutator: Mutator
    secret_names: frozenset[str] = frozenset()
    """Secrets the profiles reference: the caches watch these for warnings."""


MutatorLoader = Callable[[Path | None], LoadedConfig]
"""Load the profiles file (None: built-in profiles) into a mutator; raises `ConfigError`."""


def default_loader(path: Path | None) -> LoadedConfig:
    """The production loader: `webhook.core.config.load_config`, then `build_mutator`."""
    from webhook.core.config import load_config
    from webhook.core.mutation import build_mutator

    config = load_config(path)
    return LoadedConfig(mutator=build_mutator(config), secret_names=config.secret_names)


def _fingerprint(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class ConfigReloader:
    """Holds the current mutator and replaces it when the profiles file changes and loads."""

    def __init__(
        self,
        path: Path | None,
        loader: MutatorLoader,
        *,
        on_reload: Callable[[bool], None] | None = None,
    ) -> None:
        self.path = path
        self._loader = loader
        self._on_reload = on_reload
        self.on_loaded: Callable[[frozenset[str]], None] | None = None
        """Called on the event loop with the Secret names of every reloaded profiles file."""
        self._loaded: LoadedConfig | None = None
        self._fingerprint: str | None = None
        self._last_error: str | None = None

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
        """Why the latest change of the file was refused; None when the file in use is current."""
        return self._last_error

    def load_initial(self) -> LoadedConfig:
        """Load at start-up; a `ConfigError` propagates: the server does not start on a bad file."""
        fingerprint = _fingerprint(self.path) if self.path is not None else None
        self._loaded = self._loader(self.path)
        self._fingerprint = fingerprint
        log.info("profiles loaded", extra=fields(config=str(self.path or "built-in")))
        return self._loaded

    def poll(self) -> bool:
        """Reload when the file's content changed. True when a new mutator is now in use."""
        if self.path is None:
            return False
        fingerprint = _fingerprint(self.path)
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        try:
            loaded = self._loader(self.path)
        except WebhookError as exc:
            self._refused(str(exc))
            return False
        except Exception as exc:
            self._refused(f"loading the profiles failed ({type(exc).__name__})")
            log.exception("profiles loader crashed")
            return False
        self._loaded = loaded
        self._last_error = None
        if self._on_reload is not None:
            self._on_reload(True)
        log.info("profiles reloaded", extra=fields(config=str(self.path)))
        return True

    def _refused(self, message: str) -> None:
        self._last_error = message
        if self._on_reload is not None:
            self._on_reload(False)
        log.warning(
            "profiles file refused; still serving the previous profiles",
            extra=fields(config=str(self.path), error=message),
        )

    async def watch(self, interval: float) -> None:
        """Poll forever, every ``interval`` seconds, off the event loop."""
        while True:
            await asyncio.sleep(interval)
            try:
                if await asyncio.to_thread(self.poll) and self.on_loaded is not None:
                    self.on_loaded(self.loaded.secret_names)
            except Exception:
                log.exception("profiles check crashed; will retry")
