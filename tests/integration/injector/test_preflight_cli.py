"""``vsi-injector --check`` as a user runs it: every bad setting at once, dead addresses at once.

The installed command runs as a subprocess against loopback addresses. "At once" is pinned without
timing anything: the deadline is an hour and the subprocess gets a timeout far below it, so a
preflight that waited out the deadline would fail the test with `TimeoutExpired`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

INJECTOR = str(Path(sys.executable).parent / "vsi-injector")
HOUR = "3600"
WELL_BEFORE_THE_DEADLINE = 60.0
"""Subprocess timeout: a minute, against a deadline of an hour."""


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VSI_"))}
    env.pop("POD_NAMESPACE", None)
    return env | settings


def _injector(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INJECTOR, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=WELL_BEFORE_THE_DEADLINE,
    )


def _rows(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in json.loads(done.stdout)}


def _refused_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def not_tls() -> Iterator[int]:
    """A loopback port that answers a TLS ClientHello with plain HTTP text."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    server.close()
    thread.join(timeout=5)


def test_check_with_nothing_set_reports_every_missing_setting_then_exits_2() -> None:
    done = _injector(_env(), "--check", "-o", "json")

    rows = json.loads(done.stdout)
    assert done.returncode == 2
    assert {row["name"] for row in rows} == {"settings"}
    named = [row["detail"].split(":")[0] for row in rows]
    assert named == ["VSI_LAYOUT", "--volume/VSI_VOLUMES", "VAULT_ADDR", "VAULT_TOKEN"]
    assert all(row["status"] == "fail" for row in rows)


def test_check_names_every_bad_value_in_one_table_not_one_per_run() -> None:
    env = _env(
        VSI_LAYOUT="rook",
        VSI_VOLUMES="osd-0",
        VSI_DEADLINE="soon",
        VAULT_ADDR="https://vault:99999",
        VAULT_TOKEN="root",
        VAULT_BACKEND="kv3",
    )

    done = _injector(env, "--check")

    assert done.returncode == 2
    lines = [line for line in done.stdout.splitlines() if line.startswith("fail")]
    assert len(lines) == 3
    assert "VSI_DEADLINE: expected seconds" in lines[0]
    assert "VAULT_ADDR: port must be 1-65535, got '99999'" in lines[1]
    assert "VAULT_BACKEND: expected kv" in lines[2]
    assert done.stdout.rstrip().endswith("0 ok, 0 warn, 3 fail")


def test_a_run_with_several_bad_settings_prints_one_line_that_counts_the_rest() -> None:
    env = _env(VSI_LAYOUT="rook", VSI_VOLUMES="osd-0", VAULT_ADDR="https://vault:99999")

    done = _injector(env)

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("vsi-injector: error: VSI_OUTPUT_DIR: required")
    assert "(and 2 more; --check lists all)" in done.stderr


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_check_reports_a_refused_connection_at_once_with_its_fix(scheme: str) -> None:
    addr = f"{scheme}://127.0.0.1:{_refused_port()}"
    env = _env(VSI_LAYOUT="rook", VSI_VOLUMES="osd-0", VAULT_ADDR=addr, VAULT_TOKEN="root")

    done = _injector(env, "--check", "-o", "json", "--deadline", HOUR)

    failed = [row for row in json.loads(done.stdout) if row["status"] == "fail"]
    assert done.returncode == 1
    assert len(failed) == 1
    assert "Connection refused" in failed[0]["detail"]
    assert "gave up" not in failed[0]["detail"]
    assert failed[0]["fix"].startswith("nothing listens there: check the port of VAULT_ADDR")


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_check_reports_a_host_that_does_not_resolve_at_once(scheme: str) -> None:
    env = _env(
        VSI_LAYOUT="rook",
        VSI_VOLUMES="osd-0",
        VAULT_ADDR=f"{scheme}://vault.example.invalid:8200",
        VAULT_TOKEN="root",
    )

    done = _injector(env, "--check", "-o", "json", "--deadline", HOUR)

    failed = [row for row in json.loads(done.stdout) if row["status"] == "fail"]
    assert done.returncode == 1
    assert len(failed) == 1
    assert "the host of VAULT_ADDR does not resolve" in failed[0]["fix"]


def test_check_reports_a_tls_failure_at_once_with_its_fix(not_tls: int) -> None:
    env = _env(
        VSI_LAYOUT="rook",
        VSI_VOLUMES="osd-0",
        VAULT_ADDR=f"https://127.0.0.1:{not_tls}",
        VAULT_TOKEN="root",
    )

    done = _injector(env, "--check", "-o", "json", "--deadline", HOUR)

    rows = _rows(done)
    assert done.returncode == 1
    assert rows["tls-certificate"]["status"] == "fail"
    assert "TLS error" in rows["tls-certificate"]["detail"]
    assert "VAULT_CACERT" in rows["tls-certificate"]["fix"]
    assert "auth" not in rows


def test_a_real_run_still_retries_a_refused_connection_until_its_deadline(tmp_path: Path) -> None:
    addr = f"http://127.0.0.1:{_refused_port()}"
    env = _env(
        VSI_LAYOUT="rook",
        VSI_VOLUMES="osd-0",
        VSI_OUTPUT_DIR=str(tmp_path),
        VSI_LOG_FORMAT="text",
        VAULT_ADDR=addr,
        VAULT_TOKEN="root",
    )

    done = _injector(env, "--deadline", "1.5")

    assert done.returncode == 1
    assert "Vault not ready, retrying until the deadline" in done.stderr
    assert "gave up at the 1.5s deadline; last error:" in done.stderr
    assert "Connection refused" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_kubernetes_auth_outside_a_pod_says_how_to_make_a_token() -> None:
    env = _env(
        VSI_LAYOUT="rook",
        VSI_VOLUMES="osd-0",
        VAULT_ADDR="https://127.0.0.1:8200",
        VAULT_AUTH_METHOD="kubernetes",
        VAULT_AUTH_KUBERNETES_ROLE="storage",
    )

    done = _injector(env, "--check", "-o", "json")

    rows = json.loads(done.stdout)
    assert done.returncode == 2
    assert len(rows) == 1
    detail = rows[0]["detail"]
    assert detail.startswith("VAULT_AUTH_KUBERNETES_TOKEN_PATH: unset, and the pod's token")
    assert "kubectl create token <service-account> -n <namespace> --audience vault" in detail
    assert "--token-file token" in detail


def test_token_file_flag_gives_kubernetes_auth_its_jwt_outside_a_pod(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl")
    env = _env(
        VSI_LAYOUT="rook",
        VSI_VOLUMES="osd-0",
        VAULT_ADDR=f"http://127.0.0.1:{_refused_port()}",
        VAULT_AUTH_METHOD="kubernetes",
        VAULT_AUTH_KUBERNETES_ROLE="storage",
    )

    done = _injector(env, "--check", "-o", "json", "--token-file", str(token))
    missing = _injector(env, "--check", "--token-file", str(tmp_path / "nope"))

    rows = _rows(done)
    assert done.returncode == 1  # past the settings: the login is tried, and Vault is not there
    assert rows["auth"]["status"] == "fail"
    assert "kubernetes login" in rows["auth"]["detail"]
    assert "c2lnbmF0dXJl" not in done.stdout + done.stderr
    assert missing.returncode == 2
    assert "--token-file: expected a readable file" in missing.stdout


@pytest.mark.parametrize("token", ["e", "root"])
def test_a_dev_token_does_not_mangle_the_report(token: str) -> None:
    addr = f"http://127.0.0.1:{_refused_port()}"
    env = _env(VSI_LAYOUT="rook", VSI_VOLUMES="osd-0", VAULT_ADDR=addr, VAULT_TOKEN=token)

    done = _injector(env, "--check")

    assert done.returncode == 1
    assert "[redacted]" not in done.stdout
    assert "uses http://: the token, the credentials and every key" in done.stdout
    assert "looking up the token" in done.stdout
