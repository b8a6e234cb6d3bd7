"""Processes the benchmark starts (servers, OpenBao), their readiness and their memory.

Everything listens on 127.0.0.1 ports picked here; readiness is polled with a deadline, never slept
for; every process is stopped by its own pid (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import http.client
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO


class HarnessError(Exception):
    """The benchmark itself cannot go on (a server does not start, a tool is missing)."""


@dataclass
class Process:
    """A started process, where its output goes, and when it was started."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    started: float
    """`time.perf_counter` just before the process was spawned."""

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 1500) -> str:
        """The end of the process's output, for error messages."""
        self.log_file.flush()
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; the exit code."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log_file.close()
        return self.process.returncode


def spawn(
    name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
) -> Process:
    """Start ``argv`` with stdout and stderr to ``log_path``."""
    log_file = log_path.open("wb")
    started = time.perf_counter()
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
        )
    except OSError as exc:
        log_file.close()
        raise HarnessError(f"cannot start {name} ({argv[0]}): {exc}") from None
    return Process(name, process, log_path, log_file, started)


def client_context(ca_file: Path) -> ssl.SSLContext:
    """A TLS client context that trusts ``ca_file`` (the benchmark's own CA)."""
    return ssl.create_default_context(cafile=str(ca_file))


def https_request(
    port: int,
    context: ssl.SSLContext,
    method: str,
    path: str,
    body: bytes | None = None,
    timeout: float = 5.0,
) -> tuple[int, bytes]:
    """One HTTPS request to 127.0.0.1:``port``; ``(status, body)``; OSError on failure."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(
    proc: Process,
    port: int,
    context: ssl.SSLContext,
    *,
    path: str = "/readyz",
    deadline: float = 30.0,
    interval: float = 0.01,
) -> float:
    """Poll ``GET path`` until 200: seconds from spawn to ready; `HarnessError` at the deadline."""
    limit = time.perf_counter() + deadline
    last = "no answer"
    while time.perf_counter() < limit:
        if not proc.alive():
            raise HarnessError(
                f"{proc.name} exited with {proc.process.returncode} before it was ready:\n"
                f"{proc.log_tail()}"
            )
        try:
            status, body = https_request(port, context, "GET", path, timeout=1.0)
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if status == 200:
                return time.perf_counter() - proc.started
            last = f"HTTP {status}: {body[:200]!r}"
        time.sleep(interval)
    raise HarnessError(
        f"{proc.name} not ready within {deadline:.0f} s ({last}):\n{proc.log_tail()}"
    )


@dataclass(frozen=True)
class Memory:
    """A process's resident memory, in MiB."""

    rss_mb: float
    hwm_mb: float
    """Peak resident set size since start (VmHWM)."""


def memory(pid: int) -> Memory | None:
    """VmRSS and VmHWM from /proc/<pid>/status; None when unreadable (process gone, not Linux)."""
    values: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    if "VmRSS" not in values or "VmHWM" not in values:
        return None
    return Memory(values["VmRSS"], values["VmHWM"])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used, from /proc/<pid>/stat; None when unreadable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
        # The command name may hold spaces; the fields after its closing parenthesis do not.
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without VAULT_*, BAO_* and VSI_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "VSI_"))}
    env.update(extra)
    return env
