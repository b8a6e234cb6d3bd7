"""The three commands as a new admin first runs them: --version, --help, and defaults that agree."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from injector import cli as injector_cli
from vsi_common import names

BIN = Path(sys.executable).parent
DOCS = Path(__file__).resolve().parents[2] / "docs" / "injector.md"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize("command", ["vsi-webhook", "vsi-injector", "vsi-certs"])
def test_version_prints_the_package_version(command: str) -> None:
    done = _run(command, "--version")

    assert done.returncode == 0
    assert done.stdout == f"{command} {metadata.version('vault-storage-injector')}\n"


def test_injector_help_lists_every_vault_setting_and_the_exit_codes() -> None:
    done = _run("vsi-injector", "--help")

    text = " ".join(done.stdout.split())
    assert done.returncode == 0
    missing = [name for name in names.VAULT_SETTINGS if not re.search(rf"\b{name}\b", text)]
    assert missing == []
    assert f"Exit codes: {injector_cli.EXIT_CODES_HELP}." in text
    for name in injector_cli.ALSO_READ:
        assert name in text


def test_the_docs_state_the_help_texts_exit_codes_and_settings() -> None:
    docs = " ".join(DOCS.read_text().split())

    assert f"Exit codes: {injector_cli.EXIT_CODES_HELP}." in docs
    for name in (*names.VAULT_SETTINGS, *injector_cli.ALSO_READ):
        assert f"`{name}`" in docs, name
    for action in injector_cli.build_parser()._actions:
        if action.metavar is not None and action.option_strings:
            flag = action.option_strings[-1]
            assert f"[{flag} {action.metavar}]" in docs or f"{flag} {action.metavar}" in docs, flag


def test_metavars_of_file_flags_agree_across_commands() -> None:
    helps = [
        _run(c, *sub, "--help").stdout
        for c, *sub in (
            ("vsi-injector",),
            ("vsi-webhook", "serve"),
            ("vsi-webhook", "mutate"),
            ("vsi-webhook", "doctor"),
            ("vsi-certs", "generate"),
        )
    ]

    text = "\n".join(helps)
    namespaces = re.findall(r"--namespace (\w+)", text)
    assert len(namespaces) >= 4
    assert set(namespaces) == {"NS"}
    assert set(re.findall(r"--config (\w+)", text)) == {"FILE"}
    assert re.search(r" F\b", text) is None


def test_certs_generate_defaults_service_and_namespace_as_doctor_does(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != names.POD_NAMESPACE}

    done = _run("vsi-certs", "generate", "--out", str(tmp_path / "a"), env=env)
    in_pod = _run(
        "vsi-certs",
        "generate",
        "--out",
        str(tmp_path / "b"),
        env=env | {names.POD_NAMESPACE: "ops"},
    )

    assert done.returncode == 0, done.stderr
    svc = f"{names.WEBHOOK_SERVICE}.{names.WEBHOOK_NAMESPACE}.svc"
    assert f"{svc}," in done.stdout
    assert in_pod.returncode == 0, in_pod.stderr
    assert f"{names.WEBHOOK_SERVICE}.ops.svc," in in_pod.stdout


def test_certs_days_capped_at_the_ca_expiry_says_so_on_stderr(tmp_path: Path) -> None:
    capped = _run("vsi-certs", "generate", "--out", str(tmp_path / "a"), "--days", "5000")
    within = _run("vsi-certs", "generate", "--out", str(tmp_path / "b"), "--days", "30")

    assert capped.returncode == 0
    assert capped.stderr.startswith("vsi-certs: note: --days 5000 capped: the serving certificate")
    assert capped.stderr.count("\n") == 1
    assert within.returncode == 0
    assert within.stderr == ""


def test_doctor_json_with_the_api_unreachable_is_a_json_report(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: not-a-real-token}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
    )

    done = _run("vsi-webhook", "doctor", "-o", "json", "--kubeconfig", str(kubeconfig))
    missing = _run("vsi-webhook", "doctor", "-o", "json", "--kubeconfig", str(tmp_path / "nope"))

    rows = json.loads(done.stdout)
    assert done.returncode == 1
    assert [(r["name"], r["status"]) for r in rows] == [("kubernetes-api", "fail")]
    assert "cannot reach the Kubernetes API at https://127.0.0.1:1" in rows[0]["detail"]
    assert "not-a-real-token" not in done.stdout + done.stderr
    assert missing.returncode == 2
    assert json.loads(missing.stdout)[0]["detail"].endswith("is not a readable file")
