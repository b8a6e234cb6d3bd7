"""`read_regular_file` refuses what is not a small regular file, and never blocks doing so."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from vsi_common.files import UnreadableFile, is_regular_file, read_regular_file


def test_reads_a_regular_file_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "..data" / "tls.crt"
    target.parent.mkdir()
    target.write_bytes(b"pem bytes")
    link = tmp_path / "tls.crt"
    link.symlink_to(target)

    assert read_regular_file(link) == b"pem bytes"
    assert is_regular_file(link)


def test_a_fifo_is_refused_at_once_without_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "tls.crt"
    os.mkfifo(fifo)
    # Opening a FIFO for reading would block until a writer appears; this returns at once.
    with pytest.raises(UnreadableFile, match=r"tls.crt is a FIFO, expected a regular file"):
        read_regular_file(fifo)
    assert not is_regular_file(fifo)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.symlink_to("/dev/zero"), "is a character device"),
        (lambda p: p.symlink_to(p), "cannot open"),  # a symlink loop
        (lambda p: None, "cannot open"),  # missing
    ],
)
def test_other_kinds_of_path_are_one_line_refusals(
    tmp_path: Path, make: Callable[[Path], object], reason: str
) -> None:
    path = tmp_path / "tls.crt"
    make(path)
    with pytest.raises(UnreadableFile) as caught:
        read_regular_file(path)
    assert reason in str(caught.value)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_unix_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        with pytest.raises(UnreadableFile, match=r"cannot open .*s: No such device or address"):
            read_regular_file(path)
    finally:
        server.close()


def test_a_file_over_the_limit_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "big"
    with path.open("wb") as f:
        f.truncate(100 * 1024 * 1024)  # sparse: 100 MiB long, nothing to read
    with pytest.raises(UnreadableFile, match=r"big is larger than 1048576 bytes"):
        read_regular_file(path)
    assert read_regular_file(tmp_path / "big", max_bytes=200 * 1024 * 1024)[:1] == b"\0"
