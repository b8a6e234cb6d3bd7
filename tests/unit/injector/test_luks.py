"""cryptsetup runs with a minimal environment: no VAULT_* secret reaches a child process."""

from __future__ import annotations

from pathlib import Path

import pytest

from injector.keys import luks


def test_cryptsetup_gets_no_vault_secret_in_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = tmp_path / "env"
    fake = tmp_path / "cryptsetup"
    fake.write_text(f"#!/bin/sh\nenv > {seen}\ncat > /dev/null\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(luks, "cryptsetup_binary", lambda: str(fake))
    monkeypatch.setenv("VAULT_TOKEN", "s.never-in-a-child")
    monkeypatch.setenv("VAULT_APPROLE_SECRET_ID", "secret-id-never-in-a-child")

    assert luks.has_header(tmp_path / "disk.img", lambda: 5.0) is False

    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert not [name for name in env if name.startswith("VAULT_")]
    assert "never-in-a-child" not in seen.read_text()
    assert env["LC_ALL"] == "C"
