"""Checks every setting shares: each returns the parsed value or raises one line naming it.

`injector.settings.vault_env` (``VAULT_*``) and `injector.settings.flags` (flags and ``VSI_*``) both
read booleans and local files the same way, so a bad value reads the same whichever setting it is
in. Local files are checked here, before any network call, so a missing mount is exit code 2 and not
a failure half-way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from injector.errors import SettingsError
from vsi_common import values


def fail(name: str, problem: str) -> NoReturn:
    """Raise the one-line `SettingsError` ``<name>: <problem>``."""
    raise SettingsError(f"{name}: {problem}")


def parse_bool(value: str, name: str) -> bool:
    """A boolean setting; anything but a known spelling is an error naming ``name``."""
    try:
        return values.parse_bool(value)
    except ValueError as exc:
        fail(name, str(exc))


def path_is(path: Path, name: str, test: Callable[[Path], bool]) -> bool:
    """``test(path)`` (`Path.is_dir`, `Path.is_file`, `Path.exists`), with any other error than
    "not there" (a directory that may not be searched, a name too long) one line naming ``name``."""
    try:
        return test(path)
    except OSError as exc:
        shown = str(path) if len(str(path)) <= 120 else str(path)[:117] + "..."
        fail(name, f"cannot look at {shown!r}: {exc.strerror or exc}")


def existing_file(value: str, name: str) -> Path:
    """``value`` as the path of a readable regular file."""
    path = Path(value)
    if not path_is(path, name, Path.is_file):
        fail(name, f"expected a readable file, {value!r} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        fail(name, f"file {value!r} is not readable")
    return path
