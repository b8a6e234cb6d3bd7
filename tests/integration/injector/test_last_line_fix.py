"""The injector's last line names the fix: `kubectl describe pod` shows that line.

Real runs of the injector as a process: against real OpenBao with a token it refuses, against a
loopback port nobody listens on, and with a rook key missing from Vault.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

from tests.integration.injector.conftest import error_lines, run_injector, unique


def _last_error(stderr: str) -> str:
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr
    message: str = json.loads(lines[0])["msg"]
    return message


def test_a_refused_token_ends_with_what_to_change(
    injector_env: Callable[..., dict[str, str]], kv2: str, out_dir: Path
) -> None:
    env = injector_env(VAULT_TOKEN="hvs.not-a-token-the-server-knows", VAULT_BACKEND_PATH=kv2)

    done = run_injector(
        env,
        "--layout",
        "volume-keys",
        "--volume",
        unique("pvc"),
        "--output-dir",
        out_dir,
        "--namespace",
        "ns",
    )

    message = _last_error(done.stderr)
    assert done.code == 1
    assert message.startswith("vsi-injector: failed: ")
    assert "; fix: VAULT_TOKEN must be a live token whose policy grants read and create" in message
    assert "not-a-token-the-server-knows" not in done.stderr


def test_an_unreachable_vault_ends_with_what_to_change(
    injector_env: Callable[..., dict[str, str]], out_dir: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = injector_env(VAULT_ADDR=f"http://127.0.0.1:{port}")

    done = run_injector(
        env, "--layout", "rook", "--volume", "osd-0", "--output-dir", out_dir, "--deadline", "1"
    )

    message = _last_error(done.stderr)
    assert done.code == 1
    assert "gave up at the 1s deadline" in message
    assert "; fix: nothing listens there: check the port of VAULT_ADDR" in message


def test_a_rook_key_missing_from_vault_names_the_seed_file(
    injector_env: Callable[..., dict[str, str]], kv2: str, out_dir: Path
) -> None:
    env = injector_env(VAULT_BACKEND_PATH=kv2)

    done = run_injector(env, "--layout", "rook", "--volume", unique("osd"), "--output-dir", out_dir)

    message = _last_error(done.stderr)
    assert done.code == 1
    assert "no key at" in message
    assert "--seed-file" in message
    assert list(out_dir.iterdir()) == []
