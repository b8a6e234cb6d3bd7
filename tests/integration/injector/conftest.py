"""Helpers for injector tests against the real OpenBao: run the CLI as a process, make mounts."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import hvac
import pytest

from demo.openbao import OpenBao

if TYPE_CHECKING:
    from tests.integration.injector.check_support import AuditedOpenBao

ROOT = Path(__file__).resolve().parents[3]
RUN_TIMEOUT = 60.0
CREATE_ONLY_V1 = 'path "{mount}/*" {{ capabilities = ["create", "read"] }}'
READ_CREATE_V2 = 'path "{mount}/data/*" {{ capabilities = ["create", "read"] }}'


@dataclass(frozen=True)
class Result:
    """One finished injector process."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def error_lines(stderr: str) -> list[str]:
    """The error-level lines of a run's JSON log (warnings, e.g. about http://, are not counted)."""
    return [line for line in stderr.splitlines() if '"level":"error"' in line]


def run_injector(env: dict[str, str], *args: str | Path, timeout: float = RUN_TIMEOUT) -> Result:
    """Run ``python -m injector`` as a real process and capture everything it prints."""
    done = subprocess.run(
        [sys.executable, "-m", "injector", *map(str, args)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


async def run_injector_async(
    env: dict[str, str], *args: str | Path, timeout: float = RUN_TIMEOUT
) -> Result:
    """`run_injector` for tests whose API double answers on their own event loop."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "injector",
        *map(str, args),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Result(process.returncode, stdout.decode(), stderr.decode())


def start_injector(env: dict[str, str], *args: str | Path) -> subprocess.Popen[str]:
    """Start ``python -m injector`` without waiting (for races)."""
    return subprocess.Popen(
        [sys.executable, "-m", "injector", *map(str, args)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def enable_kv(client: hvac.Client, version: int, path: str | None = None) -> str:
    """Mount a fresh KV engine of ``version`` and return its path."""
    mount = path or unique(f"kv{version}")
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": str(version)})
    return mount


def token_with_policy(client: hvac.Client, policy: str) -> str:
    """A child token that has only ``policy`` (plus default)."""
    name = unique("pol")
    client.sys.create_or_update_policy(name, policy)
    token: str = client.auth.token.create(policies=[name], ttl="1h")["auth"]["client_token"]
    return token


def read_field(client: hvac.Client, mount: str, version: int, path: str, field: str) -> str:
    """A field as stored in Vault."""
    if version == 2:
        data = client.secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=True
        )
        value: str = data["data"]["data"][field]
    else:
        value = client.secrets.kv.v1.read_secret(path=path, mount_point=mount)["data"][field]
    return value


def stored_volume_key(
    client: hvac.Client, mount: str, version: int, namespace: str, pvc: str
) -> bytes:
    """The raw key bytes Vault holds for a volume-keys volume."""
    text = read_field(client, mount, version, f"vault-storage-injector/{namespace}/{pvc}", "key")
    return base64.b64decode(text)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    directory.mkdir()
    return directory


@pytest.fixture
def root_client(openbao: OpenBao) -> hvac.Client:
    return openbao.client()


@pytest.fixture
def kv2(root_client: hvac.Client) -> str:
    """A fresh KV v2 mount."""
    return enable_kv(root_client, 2)


@pytest.fixture
def kv1(root_client: hvac.Client) -> str:
    """A fresh KV v1 mount."""
    return enable_kv(root_client, 1)


@pytest.fixture
def injector_env(openbao: OpenBao) -> Callable[..., dict[str, str]]:
    """The process env for a run against the session server (root token unless overridden)."""

    def make(**extra: str) -> dict[str, str]:
        return openbao.env(**extra)

    return make


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditedOpenBao]:
    """An OpenBao of the module's own whose audit log shows every request sent to it."""
    from demo.openbao import free_port
    from tests.integration.injector.check_support import AuditedOpenBao

    server = AuditedOpenBao(
        tmp_path_factory.mktemp("audited"), free_port(), free_port(), free_port()
    ).start()
    try:
        yield server
    finally:
        server.stop()
