"""`python -m webhook serve` as a real process: started, its JSON log lines collected, its memory
read from /proc, and always stopped (SIGKILL at the end if a test did not stop it itself)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
DEV_SNI = "vault-storage-injector.vault-storage-injector.svc"
"""What --dev's certificate is made for (service and namespace defaults)."""
START_DEADLINE = 30.0
EXIT_DEADLINE = 10.0
"""The documented promise: the process exits within 10 s of SIGTERM."""


@dataclass
class Process:
    proc: asyncio.subprocess.Process
    port: int
    ca: Path | None
    lines: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    """Every line the process wrote to stderr, as written (JSON or not)."""

    @property
    def dev_ca(self) -> Path:
        """The CA of --dev's certificate (from the "listening" line)."""
        assert self.ca is not None, "not started with --dev"
        return self.ca

    def rss_mib(self) -> float:
        """Resident memory now (VmRSS), MiB."""
        with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS line")

    def logged(self, msg: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("msg") == msg]


async def _drain(proc: asyncio.subprocess.Process, process: Process) -> None:
    assert proc.stderr is not None
    while raw := await proc.stderr.readline():
        process.raw.append(raw)
        with contextlib.suppress(ValueError):
            process.lines.append(json.loads(raw))


@contextlib.asynccontextmanager
async def webhook_process(*extra: str, dev: bool = True) -> AsyncIterator[Process]:
    """The webhook on a free loopback port, without the API caches; ``--dev`` unless told not."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VSI_", "KUBECONFIG"))}
    env.pop("POD_NAMESPACE", None)
    mode = ["--dev"] if dev else ["--host", "127.0.0.1"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "webhook", "serve", *mode, "--no-kubernetes",
        "--port", "0", "--metrics-port", "0", *extra,
        cwd=REPO, env=env, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    process = Process(proc, 0, None)
    drain = asyncio.create_task(_drain(proc, process))
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not process.logged("listening"):
            assert proc.returncode is None, process.raw
            assert time.monotonic() < deadline, f"no 'listening' line: {process.raw}"
            await asyncio.sleep(0.05)
        listening = process.logged("listening")[0]
        process.port = listening["port"]
        process.ca = Path(listening["ca"]) if "ca" in listening else None
        yield process
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await drain
