"""Key files: exact bytes, mode, atomic replace, and nothing left behind on failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from injector.errors import OutputError
from injector.output import (
    GROUP_READABLE,
    OWNER_ONLY,
    FileOptions,
    KeyFile,
    remove_keys,
    write_keys,
)


def test_key_files_hold_exact_bytes_with_owner_only_mode(tmp_path: Path) -> None:
    write_keys(
        tmp_path,
        [KeyFile("a", b"\x00key\n"), KeyFile("b", b"k2")],
        FileOptions(OWNER_ONLY, None, None),
    )

    assert (tmp_path / "a").read_bytes() == b"\x00key\n"
    assert (tmp_path / "b").read_bytes() == b"k2"
    assert {stat.S_IMODE((tmp_path / n).stat().st_mode) for n in "ab"} == {0o400}
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


def test_group_readable_files_get_the_requested_owner(tmp_path: Path) -> None:
    uid, gid = os.getuid(), os.getgid()

    write_keys(tmp_path, [KeyFile("a", b"k")], FileOptions(GROUP_READABLE, uid, gid))

    info = (tmp_path / "a").stat()
    assert stat.S_IMODE(info.st_mode) == 0o440
    assert (info.st_uid, info.st_gid) == (uid, gid)


def test_an_existing_key_file_is_replaced_atomically(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"old")
    (tmp_path / "a").chmod(0o400)

    write_keys(tmp_path, [KeyFile("a", b"new")], FileOptions(OWNER_ONLY, None, None))

    assert (tmp_path / "a").read_bytes() == b"new"


def test_a_failed_write_removes_every_key_file_of_the_run(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()  # renaming a file over a directory fails

    with pytest.raises(OutputError, match=r"cannot write key file .*/b"):
        write_keys(
            tmp_path,
            [KeyFile("a", b"k1"), KeyFile("b", b"k2")],
            FileOptions(OWNER_ONLY, None, None),
        )

    assert os.listdir(tmp_path) == ["b"]


def test_remove_keys_clears_temporary_files_too(tmp_path: Path) -> None:
    (tmp_path / ".vsi-tmp-a-1234").write_bytes(b"partial")
    (tmp_path / "a").write_bytes(b"k")
    (tmp_path / "unrelated").write_bytes(b"x")

    remove_keys(tmp_path, ["a"])

    assert os.listdir(tmp_path) == ["unrelated"]


@pytest.mark.parametrize("name", ["../escape", "", ".."])
def test_key_file_names_cannot_leave_the_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(OutputError, match="refusing key file name"):
        write_keys(tmp_path, [KeyFile(name, b"k")], FileOptions(OWNER_ONLY, None, None))
