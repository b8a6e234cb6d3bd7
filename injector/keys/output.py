"""Key files: written atomically to the in-memory volume, exact bytes, tight mode, right owner.

Each key goes to a temporary name in the output directory (same filesystem), is fsynced, gets its
mode and owner, and is then hard-linked to its name: a link never replaces an existing file, so a
key file is never overwritten, not even by a racing writer. A reader sees either no file or the
whole key; the directory is fsynced last. A key file that is already there (an init container run
again in the same pod) is a no-op when it holds the same bytes; with other bytes, or when it is not
a regular file, the run fails closed naming it and leaves it alone (`KeyFileConflict`): something
other than this run's Vault wrote it, and the difference needs a person. Every existing file is
checked before anything is written. When anything else fails, every key file of this run is
removed: no key, no start.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import os
import secrets
import stat
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from injector.errors import KeyFileConflict, OutputError

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


def _check_name(name: str) -> None:
    if "/" in name or name in ("", ".", ".."):
        raise OutputError(f"refusing key file name {name!r}")


def _conflict(path: Path, why: str) -> KeyFileConflict:
    return KeyFileConflict(
        f"the key file {path} already exists and {why}; refusing to overwrite it, left it as it "
        "is (remove it only once you know where it came from)",
        frozenset({path.name}),
    )


def _same_existing(path: Path, key: KeyFile, options: FileOptions | None) -> bool:
    """False when ``path`` does not exist; True when it holds exactly the key.

    With ``options`` its mode and owner are set to them (a no-op for a run of the same pod).
    Raises `KeyFileConflict` when it exists with other content or is not a regular file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _conflict(path, "is a symbolic link") from None
        raise _conflict(path, f"cannot be read to compare ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _conflict(path, "is not a regular file")
        if info.st_size != len(key.content):
            raise _conflict(path, "holds other bytes than the key Vault holds")
        held = os.read(fd, len(key.content) + 1)
        if not hmac.compare_digest(held, key.content):
            raise _conflict(path, "holds other bytes than the key Vault holds")
        if options is not None:
            _set_mode_and_owner(fd, info, options)
    except OSError as exc:
        raise OutputError(f"cannot check the existing key file {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    return True


def _set_mode_and_owner(fd: int, info: os.stat_result, options: FileOptions) -> None:
    if stat.S_IMODE(info.st_mode) != options.mode:
        os.fchmod(fd, options.mode)
    uid = -1 if options.uid is None or options.uid == info.st_uid else options.uid
    gid = -1 if options.gid is None or options.gid == info.st_gid else options.gid
    if uid != -1 or gid != -1:
        os.fchown(fd, uid, gid)


def _write_one(directory: Path, key: KeyFile, options: FileOptions) -> bool:
    """Write one key file; False when it was already there with the same bytes (a no-op)."""
    _check_name(key.name)
    final = directory / key.name
    if _same_existing(final, key, options):
        return False
    temp = directory / f"{TEMP_PREFIX}{secrets.token_hex(8)}"  # any valid key name fits NAME_MAX
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
        try:
            os.link(temp, final, follow_symlinks=False)
        except FileExistsError:
            # Someone created it between the check and the link: judge it like any existing file.
            if not _same_existing(final, key, options):
                raise OutputError(
                    f"cannot write key file {final}: it vanished while checked"
                ) from None
            return False
        return True
    except OSError as exc:
        what = "set the owner of" if exc.errno in (errno.EPERM,) else "write"
        raise OutputError(f"cannot {what} key file {final}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


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


def remove_keys(directory: Path, names: Sequence[str], keep: Collection[str] = ()) -> None:
    """Remove these key files (except ``keep``) and any temporary files; never raises."""
    for name in names:
        if name in keep:
            continue
        with contextlib.suppress(OSError):
            (directory / name).unlink()
    remove_temps(directory)


def check_existing(directory: Path, keys: Sequence[KeyFile]) -> None:
    """Raise `KeyFileConflict` when key files exist with other bytes (before writing any): the
    first one's message, every such file in ``kept``, so that none of them is removed."""
    conflicts: list[KeyFileConflict] = []
    for key in keys:
        _check_name(key.name)
        final = directory / key.name
        try:
            os.lstat(final)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot check the key file {final}: {exc.strerror}") from None
        try:
            _same_existing(final, key, None)  # nothing is changed until every file is fine
        except KeyFileConflict as exc:
            conflicts.append(exc)
    if not conflicts:
        return
    kept = frozenset().union(*(c.kept for c in conflicts))
    message = str(conflicts[0])
    if len(conflicts) > 1:
        others = sorted(kept - conflicts[0].kept)
        message += f"; {len(others)} more key files conflict and were left too: {', '.join(others)}"
    raise KeyFileConflict(message, kept)


def write_keys(directory: Path, keys: Sequence[KeyFile], options: FileOptions) -> int:
    """Write every key file atomically; returns how many were new (the rest were already there).

    On a `KeyFileConflict` nothing is written and the conflicting file is left alone; on any
    other failure every key file of the run is removed and `OutputError` raised.
    """
    check_existing(directory, keys)
    try:
        written = sum(_write_one(directory, key, options) for key in keys)
        _fsync_dir(directory)
    except KeyFileConflict as exc:
        remove_keys(directory, [k.name for k in keys], keep=exc.kept)
        raise
    except OutputError:
        remove_keys(directory, [k.name for k in keys])
        raise
    except OSError as exc:
        remove_keys(directory, [k.name for k in keys])
        raise OutputError(f"cannot write key files to {directory}: {exc.strerror}") from None
    return written
