"""Reading small files that other parties control, without hanging, ballooning or prompting.

Certificates, keys, profiles, service-account tokens and seeds arrive as mounted files that a
Secret or ConfigMap update, a misconfigured volume or an attacker with write access can swap for
something else. Opening a FIFO for reading blocks until a writer appears; a device such as
``/dev/zero`` never ends; a 100 MB file at a certificate path would be read whole. So
`read_regular_file` opens without blocking, checks with ``fstat`` that the opened object (after
symlinks) is a regular file of at most ``max_bytes``, and only then reads, at most ``max_bytes``
plus one byte. Every refusal is an `UnreadableFile` whose one line names the path and the reason.
Standard library only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

MIB: Final = 1024 * 1024
"""One mebibyte."""
DEFAULT_MAX_BYTES: Final = MIB
"""Largest file read when the caller names no limit: far above any certificate chain or profile."""

_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class UnreadableFile(Exception):
    """The file cannot be used: missing, unreadable, not a regular file, or too large."""


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def read_regular_file(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), at most ``max_bytes``.

    Never blocks on a FIFO or device and never reads more than ``max_bytes + 1`` bytes. Raises
    `UnreadableFile` with one line naming the path and the reason.
    """
    shown = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise UnreadableFile(f"cannot open {shown}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(f"{shown} is {_kind(info.st_mode)}, expected a regular file")
        if info.st_size > max_bytes:
            raise UnreadableFile(f"{shown} is larger than {max_bytes} bytes")
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 64 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise UnreadableFile(f"cannot read {shown}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:  # it grew between fstat and read
        raise UnreadableFile(f"{shown} is larger than {max_bytes} bytes")
    return data


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (symlinks followed) is a regular file, without opening it."""
    try:
        return stat.S_ISREG(Path(path).stat().st_mode)
    except OSError:
        return False
