"""``vsi-certs bootstrap`` as an admin runs it.

A subprocess with a kubeconfig that points at the API double; exit codes 0 / 1 / 2 and one-line
messages on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from certs.cli import main
from doubles.kubeapi import RunningKubeApi, kubeconfig_for
from tests.integration.kube.conftest import (
    CA_SECRET,
    NAMESPACE,
    SECRET,
    SERVICE,
    WEBHOOK_CONFIG,
    shipped_secret,
    webhook_configuration,
)

DEADLINE = 60.0
"""Upper bound for one CLI run; only reached if the command hangs."""


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def kubeconfig(kubeapi: RunningKubeApi, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(kubeapi.kubeconfig())
    return path


async def vsi_certs(tmp_path: Path, *args: str, pod_namespace: str | None = None) -> Ran:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"KUBERNETES_SERVICE_HOST", "KUBECONFIG", "POD_NAMESPACE"}
    }
    env["HOME"] = str(tmp_path)  # no ~/.kube/config to fall back on
    if pod_namespace is not None:
        env["POD_NAMESPACE"] = pod_namespace
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "certs",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), DEADLINE)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


def flags(kubeconfig: Path, *extra: str) -> list[str]:
    return [
        "bootstrap",
        "--service",
        SERVICE,
        "--secret",
        SECRET,
        "--webhook-config",
        WEBHOOK_CONFIG,
        "--ca-secret",
        CA_SECRET,
        "--kubeconfig",
        str(kubeconfig),
        *extra,
    ]


def one_line_error(ran: Ran) -> str:
    assert ran.out == ""
    assert ran.err.endswith("\n")
    assert ran.err.count("\n") == 1, ran.err
    assert "Traceback" not in ran.err
    prog, _, message = ran.err.rstrip("\n").partition(": error: ")
    assert prog in {"vsi-certs", "vsi-certs bootstrap"}, ran.err
    return message


async def test_bootstrap_installs_then_changes_nothing_on_a_second_run(
    kubeapi: RunningKubeApi, kubeconfig: Path, tmp_path: Path
) -> None:
    kubeapi.api.apply(webhook_configuration(entries=2))
    kubeapi.api.apply(shipped_secret(SECRET))
    kubeapi.api.apply(shipped_secret(CA_SECRET))

    first = await vsi_certs(tmp_path, *flags(kubeconfig), pod_namespace=NAMESPACE)
    assert first.code == 0, first.err
    assert first.err == ""
    assert first.out.startswith("CA renewed")
    assert (
        f"secrets/{CA_SECRET} written, secrets/{SECRET} written in namespace {NAMESPACE}"
        in first.out
    )
    assert "caBundle written to 2 webhook entries" in first.out
    assert "create" not in {r.verb for r in kubeapi.api.requests}
    writes = len(kubeapi.api.writes())

    second = await vsi_certs(tmp_path, *flags(kubeconfig, "--namespace", NAMESPACE))
    assert second.code == 0, second.err
    assert second.out.startswith("CA kept")
    assert "unchanged" in second.out
    assert second.out.count("\n") == 1
    assert len(kubeapi.api.writes()) == writes


async def test_missing_webhook_configuration_exits_1_naming_it(
    kubeapi: RunningKubeApi, kubeconfig: Path, tmp_path: Path
) -> None:
    ran = await vsi_certs(tmp_path, *flags(kubeconfig, "--namespace", NAMESPACE))
    assert ran.code == 1
    assert one_line_error(ran).startswith(
        f"MutatingWebhookConfiguration '{WEBHOOK_CONFIG}' not found"
    )


async def test_denied_rbac_exits_1_naming_verb_and_resource(
    kubeapi: RunningKubeApi, kubeconfig: Path, tmp_path: Path
) -> None:
    kubeapi.api.apply(webhook_configuration())
    kubeapi.api.forbid("get", "mutatingwebhookconfigurations")

    ran = await vsi_certs(tmp_path, *flags(kubeconfig, "--namespace", NAMESPACE))
    assert ran.code == 1
    assert one_line_error(ran) == (
        f"forbidden: cannot get mutatingwebhookconfigurations/{WEBHOOK_CONFIG}"
    )


async def test_unreachable_api_exits_1(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "kubeconfig"
    config.write_text(kubeconfig_for(f"http://127.0.0.1:{port}"))
    ran = await vsi_certs(tmp_path, *flags(config, "--namespace", NAMESPACE))
    assert ran.code == 1
    assert one_line_error(ran).startswith(
        f"cannot reach the Kubernetes API at http://127.0.0.1:{port}: "
    )


async def test_bad_flag_exits_2_before_any_request(
    kubeapi: RunningKubeApi, kubeconfig: Path, tmp_path: Path
) -> None:
    kubeapi.api.apply(webhook_configuration())

    ran = await vsi_certs(tmp_path, *flags(kubeconfig, "--namespace", NAMESPACE, "--days", "0"))

    assert ran.code == 2
    assert one_line_error(ran) == "--days: 0 is not a positive number of days"
    assert kubeapi.api.requests == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--namespace", NAMESPACE, "--days", "many"], "argument --days: 'many' is not a whole"),
        ([], "--namespace: required (or set POD_NAMESPACE)"),
        (["--namespace", "Bad_NS"], "--namespace: 'Bad_NS' is not a namespace name"),
        (["--namespace", NAMESPACE, "--secret", "No/Such"], "--secret: 'No/Such' is not an"),
        (["--namespace", NAMESPACE, "--ca-secret", SECRET], "--ca-secret: 'vault-storage-inj"),
        (
            ["--namespace", NAMESPACE, "--rotate-before", "400"],
            "--rotate-before: 400 days must be less than --days (365)",
        ),
        (
            ["--namespace", NAMESPACE, "--ca-rotate-before", "10"],
            "--ca-rotate-before: 10 days must be at least --rotate-before (30)",
        ),
        (["--namespace", NAMESPACE, "--context", "elsewhere"], "--context: "),
    ],
)
def test_bad_flags_exit_2_with_one_line_naming_the_flag(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    expected: str,
) -> None:
    # In-process (same parser and error mapping as the subprocess runs above, minus the start-up
    # cost); the kubeconfig names an address nothing listens on, as no request may be made.
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    config = tmp_path / "kubeconfig"
    config.write_text(kubeconfig_for("http://127.0.0.1:9"))

    try:
        code = main(flags(config, *extra))  # a repeated flag overrides the default one
    except SystemExit as exit_:  # argparse's own errors exit from inside parse_args
        code = int(exit_.code or 0)

    captured = capsys.readouterr()
    assert code == 2
    assert one_line_error(Ran(code, captured.out, captured.err)).startswith(expected)


async def test_missing_kubeconfig_file_exits_2(tmp_path: Path) -> None:
    ran = await vsi_certs(
        tmp_path, *flags(tmp_path / "nope", "--namespace", NAMESPACE), pod_namespace=None
    )
    assert ran.code == 2
    assert one_line_error(ran) == f"--kubeconfig: {tmp_path / 'nope'} is not a readable file"


async def test_no_configuration_at_all_exits_1(tmp_path: Path) -> None:
    args = flags(tmp_path / "unused", "--namespace", NAMESPACE)
    index = args.index("--kubeconfig")
    del args[index : index + 2]
    ran = await vsi_certs(tmp_path, *args)
    assert ran.code == 1
    assert one_line_error(ran).startswith("no Kubernetes configuration")
