"""Key files: exact bytes, mode, atomic replace, and nothing left behind on failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from injector.errors import KeyFileConflict, OutputError
from injector.keys.output import (
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


def test_the_longest_valid_pvc_name_is_written(tmp_path: Path) -> None:
    """253 characters (a DNS subdomain, as a PVC name may be): the temporary name must fit too."""
    name = ".".join(["a" * 63] * 4)[:253]
    assert len(name) == 253

    write_keys(tmp_path, [KeyFile(name, b"k")], FileOptions(OWNER_ONLY, None, None))

    assert sorted(os.listdir(tmp_path)) == [name]
    assert (tmp_path / name).read_bytes() == b"k"


def test_group_readable_files_get_the_requested_owner(tmp_path: Path) -> None:
    uid, gid = os.getuid(), os.getgid()

    write_keys(tmp_path, [KeyFile("a", b"k")], FileOptions(GROUP_READABLE, uid, gid))

    info = (tmp_path / "a").stat()
    assert stat.S_IMODE(info.st_mode) == 0o440
    assert (info.st_uid, info.st_gid) == (uid, gid)


def test_an_existing_key_file_with_the_same_bytes_is_a_no_op(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"same")
    (tmp_path / "a").chmod(0o644)
    inode = (tmp_path / "a").stat().st_ino

    written = write_keys(tmp_path, [KeyFile("a", b"same")], FileOptions(OWNER_ONLY, None, None))

    assert written == 0
    assert (tmp_path / "a").read_bytes() == b"same"
    assert (tmp_path / "a").stat().st_ino == inode
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == OWNER_ONLY
    assert os.listdir(tmp_path) == ["a"]


@pytest.mark.parametrize("held", [b"old", b"nEw", b"new\n", b""])
def test_an_existing_key_file_with_other_bytes_fails_closed_and_is_left_alone(
    tmp_path: Path, held: bytes
) -> None:
    (tmp_path / "a").write_bytes(held)
    (tmp_path / "a").chmod(0o400)

    with pytest.raises(KeyFileConflict, match=r"key file .*/a already exists and holds other"):
        write_keys(
            tmp_path,
            [KeyFile("b", b"k2"), KeyFile("a", b"new")],
            FileOptions(OWNER_ONLY, None, None),
        )

    assert (tmp_path / "a").read_bytes() == held
    assert os.listdir(tmp_path) == ["a"]  # b was not written: every file is checked first


def test_a_symlink_where_a_key_file_goes_is_never_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"k")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "a").symlink_to(target)

    with pytest.raises(KeyFileConflict, match="is a symbolic link"):
        write_keys(tmp_path / "keys", [KeyFile("a", b"k")], FileOptions(OWNER_ONLY, None, None))

    assert (tmp_path / "keys" / "a").is_symlink()


def test_a_key_file_that_appears_while_writing_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_link = os.link

    def racing_link(src: str, dst: str, **kwargs: object) -> None:
        Path(dst).write_bytes(b"written by someone else")
        real_link(src, dst, **kwargs)  # type: ignore[arg-type]  # os.link's keyword types

    monkeypatch.setattr(os, "link", racing_link)

    with pytest.raises(KeyFileConflict):
        write_keys(tmp_path, [KeyFile("a", b"mine")], FileOptions(OWNER_ONLY, None, None))

    assert (tmp_path / "a").read_bytes() == b"written by someone else"
    assert os.listdir(tmp_path) == ["a"]


def test_a_failed_write_removes_every_key_file_of_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_link = os.link

    def failing_link(src: str, dst: str, **kwargs: object) -> None:
        if Path(dst).name == "b":
            raise OSError(28, "No space left on device")
        real_link(src, dst, **kwargs)  # type: ignore[arg-type]  # os.link's keyword types

    monkeypatch.setattr(os, "link", failing_link)

    with pytest.raises(OutputError, match=r"cannot write key file .*/b: No space left"):
        write_keys(
            tmp_path,
            [KeyFile("a", b"k1"), KeyFile("b", b"k2")],
            FileOptions(OWNER_ONLY, None, None),
        )

    assert os.listdir(tmp_path) == []


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
