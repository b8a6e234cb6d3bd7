"""Key files: written atomically to the in-memory volume, exact bytes, tight mode, right owner.

Each key goes to a temporary name in the output directory (same filesystem, so the rename is
atomic), is fsynced, gets its mode and owner, and is renamed into place; the directory is fsynced
last. A reader therefore sees either no file or the whole key. When anything fails, every key file
of this run is removed: no key, no start.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from injector.errors import OutputError

OWNER_ONLY: Final = 0o400
"""Key file mode: readable by its owner only."""
GROUP_READABLE: Final = 0o440
"""Key file mode with --group-readable: also readable by the group (the pod's fsGroup)."""
TEMP_PREFIX: Final = ".vsi-tmp-"
"""Prefix of temporary files in the output directory."""


@dataclass(frozen=True)
class KeyFile:
    """One file to write."""

    name: str
    """File name inside the output directory (validated: no slash)."""
    content: bytes = field(repr=False)
    """Exact bytes (secret)."""


@dataclass(frozen=True)
class FileOptions:
    """Mode and ownership of the key files."""

    mode: int
    """0400 or 0440."""
    uid: int | None
    """Owner; None keeps the writer's user."""
    gid: int | None
    """Group; None keeps the writer's group."""


def _write_one(directory: Path, key: KeyFile, options: FileOptions) -> None:
    if "/" in key.name or key.name in ("", ".", ".."):
        raise OutputError(f"refusing key file name {key.name!r}")
    temp = directory / f"{TEMP_PREFIX}{key.name}-{secrets.token_hex(4)}"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            view = memoryview(key.content)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, options.mode)
            if options.uid is not None or options.gid is not None:
                os.fchown(
                    fd,
                    -1 if options.uid is None else options.uid,
                    -1 if options.gid is None else options.gid,
                )
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, directory / key.name)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        what = "set the owner of" if exc.errno in (1,) else "write"
        raise OutputError(
            f"cannot {what} key file {directory / key.name}: {exc.strerror}"
        ) from None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_temps(directory: Path) -> None:
    """Remove every temporary file in ``directory`` (also those of a killed run); never raises."""
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            if entry.name.startswith(TEMP_PREFIX):
                with contextlib.suppress(OSError):
                    entry.unlink()


def remove_keys(directory: Path, names: Sequence[str]) -> None:
    """Remove these key files and any temporary files left in ``directory``; never raises."""
    for name in names:
        with contextlib.suppress(OSError):
            (directory / name).unlink()
    remove_temps(directory)


def write_keys(directory: Path, keys: Sequence[KeyFile], options: FileOptions) -> None:
    """Write every key file atomically; on failure remove them all and raise `OutputError`."""
    try:
        for key in keys:
            _write_one(directory, key, options)
        _fsync_dir(directory)
    except OutputError:
        remove_keys(directory, [k.name for k in keys])
        raise
    except OSError as exc:
        remove_keys(directory, [k.name for k in keys])
        raise OutputError(f"cannot write key files to {directory}: {exc.strerror}") from None
