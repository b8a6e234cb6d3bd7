"""The command line: flags over env; a bad setting is exit 2 and one line, before any I/O."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from injector import cli
from injector.cli import parse
from injector.errors import SettingsError
from tests.unit.injector.support import NO_SA, base_env
from vsi_common import names


def test_flags_override_environment(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    settings = parse(
        [
            "--volume",
            "x",
            "--volume",
            "y,z",
            "--output-dir",
            str(other),
            "--namespace",
            "n2",
            "--deadline",
            "2.5",
        ],
        base_env(tmp_path, VSI_DEADLINE="9"),
        service_account_dir=NO_SA,
    )

    assert settings.volumes == ("x", "y", "z")
    assert settings.output_dir == other
    assert settings.namespace == "n2"
    assert settings.deadline == 2.5


def test_a_malformed_vault_addr_exits_2_with_one_line_naming_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VSI_"))}
    env |= base_env(tmp_path, VAULT_ADDR="https://[::1")

    done = subprocess.run(
        [sys.executable, "-m", "injector"],
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr.startswith("vsi-injector: error: VAULT_ADDR: expected an http or https URL")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_bad_flag_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="argument --layout: invalid choice"):
        parse(["--layout", "lvm"], base_env(tmp_path), service_account_dir=NO_SA)


def test_main_returns_2_and_prints_one_line_without_touching_the_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith(("VAULT_", "VSI_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv(names.VAULT_ADDR, "https://vault.invalid:8200")
    monkeypatch.setenv(names.VAULT_TOKEN, "s.do-not-print-me")

    code = cli.main(
        ["--layout", "volume-keys", "--volume", "v", "--output-dir", str(tmp_path / "missing")]
    )

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().count("\n") == 0
    assert "--output-dir: expected an existing directory" in captured.err
    assert "do-not-print-me" not in captured.err + captured.out


def test_settings_errors_import_no_network_library() -> None:
    probe = (
        "import sys\n"
        "from injector import cli\n"
        "code = cli.main(['--layout', 'rook'])\n"
        "libs = ('hvac', 'requests', 'urllib3', 'kubernetes_asyncio')\n"
        "loaded = [m for m in libs if m in sys.modules]\n"
        "print(code, loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env={}
    )

    assert done.stdout.strip() == "2 []"
