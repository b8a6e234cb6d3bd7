"""The command line: flags over env; a bad setting is exit 2 and one line, before any I/O."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from injector import cli
from injector.cli import parse_command
from injector.errors import SettingsError
from tests.unit.injector.support import NO_SA, base_env
from vsi_common import names


def test_flags_override_environment(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    settings = parse_command(
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
    ).settings

    assert settings.volumes == ("x", "y", "z")
    assert settings.output_dir == other
    assert settings.namespace == "n2"
    assert settings.deadline == 2.5


def test_a_malformed_vault_addr_exits_2_with_one_line_naming_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VSI_"))}
    env |= base_env(tmp_path, VAULT_ADDR="https://[::1")

    done = _injector(env)

    assert done.returncode == 2
    assert done.stderr.startswith("vsi-injector: error: VAULT_ADDR: expected an http or https URL")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("setting", "where"),
    [
        ("--output-dir", "flag"),
        (names.VAULT_CACERT, "env"),
        (names.VAULT_CAPATH, "env"),
        (names.VSI_TLS_DIR, "env"),
        ("--verify-luks", "flag"),
    ],
)
def test_a_path_too_long_to_look_at_exits_2_naming_the_setting(
    tmp_path: Path, setting: str, where: str
) -> None:
    """Not "missing": the kernel refuses to look (ENAMETOOLONG; EACCES behaves the same)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VSI_"))}
    env |= base_env(tmp_path)
    long = str(tmp_path / ("x" * 5000))
    out_dir = long if setting == "--output-dir" else str(tmp_path)
    args = ["--layout", "volume-keys", "--volume", "v", "--output-dir", out_dir]
    if where == "env":
        env[setting] = long
    elif setting != "--output-dir":
        args += [setting, long]

    done = _injector(env, *args)

    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"vsi-injector: error: {setting}: cannot look at "), done.stderr
    assert "File name too long" in done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_bad_flag_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="argument --layout: invalid choice"):
        parse_command(["--layout", "lvm"], base_env(tmp_path), service_account_dir=NO_SA)


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

    assert done.stdout.strip().splitlines()[-1] == "2 []"


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VSI_"))}
    env |= base_env(tmp_path, **extra)
    del env["VSI_OUTPUT_DIR"]
    return env


def _injector(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "injector", *args],
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_check_takes_the_settings_of_a_run_without_an_output_directory(tmp_path: Path) -> None:
    env = _clean_env(tmp_path)

    command = cli.parse_command(["--check", "-o", "json"], env, service_account_dir=NO_SA)
    default = cli.parse_command(["--check"], env, service_account_dir=NO_SA)

    assert (command.check, command.output, command.settings.output_dir) == (True, "json", None)
    assert default.output == "table"
    assert command.settings.volumes == ("a", "b")


def test_output_format_without_check_is_a_settings_error(tmp_path: Path) -> None:
    done = _injector(_clean_env(tmp_path), "-o", "json")

    assert done.returncode == 2
    assert done.stderr == "vsi-injector: error: -o/--output: only a --check prints a report\n"
    assert done.stdout == ""


def test_check_with_a_bad_setting_exits_2_as_a_run_does_with_the_setting_as_a_row(
    tmp_path: Path,
) -> None:
    done = _injector(_clean_env(tmp_path, VAULT_BACKEND="v3"), "--check", "-o", "json")

    assert done.returncode == 2
    rows = json.loads(done.stdout)
    assert [(r["name"], r["status"]) for r in rows] == [("settings", "fail")]
    assert rows[0]["detail"].startswith("VAULT_BACKEND: expected kv, kv-v2")
    assert "secret-token-value" not in done.stdout + done.stderr


def test_check_against_an_unreachable_vault_reports_why_and_exits_1(tmp_path: Path) -> None:
    done = _injector(_clean_env(tmp_path, VSI_DEADLINE="1"), "--check", "-o", "json")

    checks = {c["name"]: c for c in json.loads(done.stdout)}
    assert done.returncode == 1
    assert checks["tls"]["status"] == "warn"
    assert checks["auth"]["status"] == "fail"
    assert "Connection refused" in checks["auth"]["detail"]
    assert "gave up" not in checks["auth"]["detail"]
    assert "nothing listens there: check the port of VAULT_ADDR" in checks["auth"]["fix"]
    assert "secret-token-value" not in done.stdout + done.stderr


def test_a_check_with_bad_settings_imports_no_network_library() -> None:
    probe = (
        "import sys\n"
        "from injector import cli\n"
        "code = cli.main(['--check', '--layout', 'rook'])\n"
        "libs = ('urllib3', 'kubernetes_asyncio', 'cryptography', 'injector.check.preflight')\n"
        "loaded = [m for m in libs if m in sys.modules]\n"
        "print(code, loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env={}
    )

    assert done.stdout.strip().splitlines()[-1] == "2 []"
