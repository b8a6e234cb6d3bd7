"""The injector's error hierarchy; ``cli.main`` maps it to exit codes (2 settings, 1 the rest).

Messages are one line for a user and never carry a secret (no token, key or seed content).
"""

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class InjectorError(Exception):
    """Any failure the injector reports as one line and exit code 1."""


class SettingsError(InjectorError):
    """A missing or invalid setting, found before any network call (exit code 2)."""


class SettingsErrors(SettingsError):
    """Every bad setting found in one pass: ``--check`` shows each as a row; a run's one line
    names the first and counts the others."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        more = f" (and {len(problems) - 1} more; --check lists all)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more)
        self.problems = problems
        """One line per bad setting, each naming the flag or variable, in a fixed order."""


def collect(problems: list[str], default: T, build: Callable[[], T]) -> T:
    """``build()``, or ``default`` after noting its `SettingsError` line(s) in ``problems``."""
    try:
        return build()
    except SettingsErrors as exc:
        problems.extend(exc.problems)
    except SettingsError as exc:
        problems.append(str(exc))
    return default


class VaultError(InjectorError):
    """Vault refused, failed or could not be reached within the deadline."""


class VaultDenied(VaultError):
    """Vault's own 401 or 403 to a request that takes no denial as an answer (token or policy)."""


class KeyFailure(InjectorError):
    """A key cannot be used safely: missing for the rook layout, deleted, malformed or changed."""


class OutputError(InjectorError):
    """A key file could not be written to the output directory."""


class KeyFileConflict(OutputError):
    """A key file already exists with other bytes: it is left alone and the run fails closed."""

    def __init__(self, message: str, kept: frozenset[str]) -> None:
        super().__init__(message)
        self.kept = kept
        """The file names in the output directory that must not be removed."""


class LuksError(InjectorError):
    """The key does not unlock the LUKS volume, or the check could not run."""


class KubernetesError(InjectorError):
    """The PVC or its bound PV could not be read for a ``{pv}``/``{volume_handle}`` template."""
