"""Connection benchmark: what one connection costs the webhook, and a flood against its cap.

Per-connection memory is the growth of a fresh server's RSS (``/proc/<pid>/status``) over
`COUNT` connections of one kind, divided by their number; a fresh server for each kind, because
memory freed by one kind would be reused by the next. Three kinds: TCP sockets that never start
TLS, TLS sockets that handshake and then send nothing, and TLS connections kept alive after one
review. The same is measured on the floor (`bench.floor`: aiohttp's ``TCPSite`` with asyncio's
own TLS transport), the reference for what the webhook would cost without its connection budget.

Then the flood: 2 000 idle TLS sockets and 1 000 that never start TLS against the default cap;
the RSS growth at its peak against the budget docs/server.md gives (cap x 100 KiB), a review's
latency during the flood, and the RSS once the sockets closed and the server trimmed its heap.
"""

from __future__ import annotations

import resource
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bench import admission, bodies, procs, sockets
from bench.report import Row, number, verdict
from demo.openbao import free_port

Say = Callable[[str], None]

COUNT: Final = 1000
"""Connections of one kind per measurement."""
SNI: Final = "vsi-webhook.bench.svc"
"""What `bench.admission.make_certificates` makes the certificate for."""
KINDS: Final = ("never-tls", "idle-tls", "after-review")
KIND_NAMES: Final = {
    "never-tls": "TCP, never starts TLS",
    "idle-tls": "TLS handshake done, idle",
    "after-review": "kept alive after a review",
}
FLOOD_IDLE: Final = 2000
FLOOD_NEVER: Final = 1000
CAP: Final = 512
"""The default --max-connections (webhook.server.settings.DEFAULT_MAX_CONNECTIONS)."""
BUDGET_KIB: Final = 100
"""Per-connection memory docs/server.md budgets with."""
REVIEW_BOUND_S: Final = 1.0
NEAR_BASELINE_MIB: Final = 16.0
SETTLE_S: Final = 1.0
"""Wait after opening sockets before reading RSS (the server finishes their handshakes)."""
TRIM_WAIT_S: Final = 12.0
"""The server trims every 5 s after 256 closes; RSS is read until it stops falling or this."""


@dataclass
class ConnectionResult:
    kib: dict[tuple[str, str], float] = field(default_factory=dict)
    """(server, kind) -> KiB per connection."""
    flood_growth_mib: float | None = None
    flood_review_s: float | None = None
    after_close_mib: float | None = None
    baseline_mib: float | None = None
    errors: list[str] = field(default_factory=list)


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FLOOD_IDLE + FLOOD_NEVER + 512
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


class ConnectionBench:
    """Starts servers in ``workdir`` one at a time and measures their connections."""

    def __init__(self, workdir: Path, say: Say) -> None:
        self.workdir = workdir
        self.say = say
        self.result = ConnectionResult()
        self.body = bodies.dumps(bodies.BODIES["rook-osd-pvc"]())
        self._started = 0

    def run(self) -> ConnectionResult:
        _raise_fd_limit()
        ca, cert, key = admission.make_certificates(self.workdir / "certs")
        context = procs.client_context(ca)
        context.check_hostname = False
        for server in ("floor", "webhook"):
            for kind in KINDS:
                proc, port = self._start(server, cert, key, max_connections=COUNT + 100)
                try:
                    self.result.kib[(server, kind)] = self._cost(proc, port, context, kind)
                finally:
                    proc.stop()
                self.say(
                    f"  {server:<8} {KIND_NAMES[kind]:<28} "
                    f"{self.result.kib[(server, kind)]:7.1f} KiB per connection"
                )
        proc, port = self._start("webhook", cert, key, max_connections=None)
        try:
            self._flood(proc, port, context)
        finally:
            proc.stop()
        return self.result

    def _start(
        self, server: str, cert: Path, key: Path, *, max_connections: int | None
    ) -> tuple[procs.Process, int]:
        port = free_port()
        self._started += 1
        log = self.workdir / f"{server}-{self._started}.log"
        if server == "floor":
            argv = [sys.executable, "-m", "bench.floor", "--port", str(port)]
            argv += ["--tls-cert", str(cert), "--tls-key", str(key)]
        else:
            argv = [admission.webhook_binary(), "serve", "--tls-cert", str(cert), "--tls-key"]
            argv += [str(key), "--host", "127.0.0.1", "--port", str(port), "--metrics-port", "0"]
            argv += ["--no-kubernetes"]
            if max_connections is not None:
                argv += ["--max-connections", str(max_connections)]
        env = procs.clean_env()
        env.pop("KUBECONFIG", None)
        proc = procs.spawn(server, argv, log, env)
        context = procs.client_context(self.workdir / "certs" / "ca.crt")
        procs.wait_ready(proc, port, context, deadline=30.0)
        for _ in range(20):  # warm up: the first reviews load code and build caches
            self._review(port, context)
        return proc, port

    def _review(self, port: int, context: ssl.SSLContext) -> float:
        started = time.perf_counter()
        status, _ = procs.https_request(port, context, "POST", "/mutate", self.body, timeout=30)
        if status != 200:
            raise procs.HarnessError(f"a review was answered {status}")
        return time.perf_counter() - started

    def _rss(self, proc: procs.Process) -> float:
        mem = procs.memory(proc.pid)
        if mem is None:
            raise procs.HarnessError(f"cannot read the memory of {proc.name}")
        return mem.rss_mb

    def _cost(self, proc: procs.Process, port: int, context: ssl.SSLContext, kind: str) -> float:
        """KiB of RSS per connection of ``kind`` (COUNT of them, opened on a fresh server)."""
        time.sleep(SETTLE_S)
        before = self._rss(proc)
        if kind == "never-tls":
            opened = sockets.open_tcp(port, COUNT)
        else:
            opened = sockets.open_tls(port, COUNT, context, SNI)
            if kind == "after-review":
                sockets.review_on_each(opened.sockets, self.body)
        try:
            time.sleep(SETTLE_S)
            if opened.failed:
                raise procs.HarnessError(f"{opened.failed} {kind} connections were refused")
            return (self._rss(proc) - before) * 1024 / COUNT
        finally:
            opened.close()

    def _flood(self, proc: procs.Process, port: int, context: ssl.SSLContext) -> None:
        time.sleep(SETTLE_S)
        baseline = self.result.baseline_mib = self._rss(proc)
        idle = sockets.open_tls(port, FLOOD_IDLE, context, SNI, deadline=120)
        never = sockets.open_tcp(port, FLOOD_NEVER, deadline=60)
        try:
            time.sleep(SETTLE_S)
            review = procs.client_context(self.workdir / "certs" / "ca.crt")
            self.result.flood_review_s = self._review(port, review)
            self.result.flood_growth_mib = self._rss(proc) - baseline
        finally:
            idle.close()
            never.close()
        deadline = time.monotonic() + TRIM_WAIT_S
        lowest = self._rss(proc)
        while time.monotonic() < deadline and lowest > baseline + NEAR_BASELINE_MIB / 2:
            time.sleep(0.5)
            lowest = min(lowest, self._rss(proc))
        self.result.after_close_mib = lowest - baseline
        self.say(
            f"  flood {FLOOD_IDLE} idle TLS + {FLOOD_NEVER} never-TLS at cap {CAP}: "
            f"+{self.result.flood_growth_mib:.1f} MiB, review {self.result.flood_review_s:.3f} s, "
            f"+{self.result.after_close_mib:.1f} MiB once closed (baseline {baseline:.1f} MiB)"
        )


def rows(result: ConnectionResult) -> list[Row]:
    """The per-connection memory rows and the flood rows."""
    out = []
    for kind in KINDS:
        mine = result.kib.get(("webhook", kind))
        floor = result.kib.get(("floor", kind))
        out.append(
            Row(
                f"memory per connection: {KIND_NAMES[kind]}",
                f"{number(mine)} KiB" if mine is not None else "not measured",
                f"<= {BUDGET_KIB} KiB",
                verdict(None if mine is None else mine <= BUDGET_KIB),
                f"asyncio's own TLS (floor): {number(floor)} KiB" if floor is not None else "",
            )
        )
    budget = CAP * BUDGET_KIB / 1024
    growth, review, after = result.flood_growth_mib, result.flood_review_s, result.after_close_mib
    out.append(
        Row(
            f"RSS growth, {FLOOD_IDLE} idle TLS + {FLOOD_NEVER} never-TLS sockets",
            f"{number(growth)} MiB" if growth is not None else "not measured",
            f"<= {budget:.0f} MiB (cap {CAP} x {BUDGET_KIB} KiB)",
            verdict(None if growth is None else growth <= budget),
        )
    )
    out.append(
        Row(
            "review during that flood",
            f"{review * 1000:.0f} ms" if review is not None else "not measured",
            f"< {REVIEW_BOUND_S:g} s",
            verdict(None if review is None else review < REVIEW_BOUND_S),
        )
    )
    out.append(
        Row(
            "RSS above baseline once the flood closed",
            f"{number(after)} MiB" if after is not None else "not measured",
            f"<= {NEAR_BASELINE_MIB:g} MiB",
            verdict(None if after is None else after <= NEAR_BASELINE_MIB),
            f"baseline {number(result.baseline_mib)} MiB" if result.baseline_mib else "",
        )
    )
    return out
