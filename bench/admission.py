"""Admission benchmark: the real webhook against the aiohttp floor, A B A B, over keep-alive HTTPS.

Both servers run side by side as subprocesses with the same certificate; wrk loads them in turn with
the same body. Before any load, the webhook must answer each body with a non-empty JSON Patch
(otherwise the benchmark would time a no-op). The webhook's RSS is read after every round, and its
start-to-``/readyz`` time is measured at each start.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import shutil
import ssl
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import orjson

from bench import bodies, load, procs
from bench.report import Row, median, verdict
from demo.openbao import free_port

Say = Callable[[str], None]

FLOOR: Final = "floor"
WEBHOOK: Final = "webhook"
RATIO_TARGET: Final = 0.8
P99_TARGET_MS: Final = 5.0
RSS_TARGET_MB: Final = 100.0
GROWTH_LIMIT_MB: Final = 5.0
"""RSS growth between the second and the last round above this is reported as a leak."""
READY_TARGET_S: Final = 2.0


@dataclass(frozen=True)
class AdmissionOptions:
    rounds: int = 3
    seconds: float = 5.0
    warmup_seconds: float = 2.0
    connections: int = 16
    threads: int = 2
    ready_starts: int = 3
    """How many webhook starts to time (the first is the one that serves the load)."""
    profile_dir: Path | None = None
    """When set: after the measured rounds, one extra loaded run per body under py-spy, whose
    flame graphs go here (py-spy is not a project dependency: pip install py-spy)."""


@dataclass
class AdmissionResult:
    body_sizes: dict[str, int] = field(default_factory=dict)
    patch_problems: dict[str, str | None] = field(default_factory=dict)
    """Body -> why the webhook's answer is unusable for the benchmark, None when it is fine."""
    patch_ops: dict[str, int] = field(default_factory=dict)
    runs: dict[tuple[str, str], list[load.WrkResult]] = field(default_factory=dict)
    rss: list[procs.Memory] = field(default_factory=list)
    """Webhook memory after each round (index 0: after round 1)."""
    cpu_us: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    """Server CPU time per request (user + system, microseconds), per measured run. Unlike req/s
    it does not depend on how much of the two cores wrk and other processes take."""
    ready_seconds: list[float] = field(default_factory=list)
    metrics_reviews: str | None = None
    errors: list[str] = field(default_factory=list)

    def ratios(self, body: str) -> list[float]:
        """Webhook/floor requests per second, round by round (each pair measured back to back)."""
        floor = self.runs.get((body, FLOOR), [])
        hook = self.runs.get((body, WEBHOOK), [])
        return [h.rps / f.rps for f, h in zip(floor, hook, strict=False) if f.rps > 0]


def webhook_binary() -> str:
    """``vsi-webhook`` next to this Python (the project venv), else on PATH."""
    candidate = Path(sys.executable).parent / "vsi-webhook"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("vsi-webhook")
    if found is None:
        raise procs.HarnessError("vsi-webhook is not installed (pip install -e .)")
    return found


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """``(ca.crt, tls.crt, tls.key)`` for 127.0.0.1, made by the project's certs package."""
    from certs.generate import generate

    generate(directory, "vsi-webhook", "bench", extra_sans=["localhost", "127.0.0.1"])
    return directory / "ca.crt", directory / "tls.crt", directory / "tls.key"


def check_patch(status: int, payload: bytes, uid: str) -> tuple[str | None, int]:
    """Why a webhook answer cannot be benchmarked (None when fine) and its number of patch ops."""
    if status != 200:
        return f"HTTP {status}: {payload[:200]!r}", 0
    try:
        response = orjson.loads(payload)["response"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return f"not an AdmissionReview answer: {payload[:200]!r}", 0
    if response.get("uid") != uid:
        return "the answer does not echo the request uid", 0
    if not response.get("allowed"):
        return f"not allowed: {response.get('status')}", 0
    encoded = response.get("patch")
    if not encoded:
        return "the answer has no patch (nothing is mutated, nothing to measure)", 0
    try:
        ops = orjson.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, orjson.JSONDecodeError):
        return "the patch is not base64 JSON", 0
    if not isinstance(ops, list) or not ops:
        return "the patch is empty (nothing is mutated, nothing to measure)", 0
    return None, len(ops)


class AdmissionBench:
    """Starts both servers in ``workdir``, loads them, and stops them."""

    def __init__(self, options: AdmissionOptions, workdir: Path, say: Say) -> None:
        self.options = options
        self.workdir = workdir
        self.say = say
        self.result = AdmissionResult()
        self.floor: procs.Process | None = None
        self.webhook: procs.Process | None = None
        self.ports: dict[str, int] = {}
        self.context = ssl.create_default_context()
        """TLS client context; trusts the benchmark's CA once the certificates exist."""

    def run(self) -> AdmissionResult:
        try:
            self._run()
        finally:
            for proc in (self.webhook, self.floor):
                if proc is not None:
                    proc.stop()
        return self.result

    def _start_webhook(self, tls_cert: Path, tls_key: Path) -> float:
        port, metrics_port = free_port(), free_port()
        argv = [
            webhook_binary(),
            "serve",
            "--tls-cert",
            str(tls_cert),
            "--tls-key",
            str(tls_key),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            "--no-kubernetes",
        ]
        env = procs.clean_env()
        env.pop("KUBECONFIG", None)
        n = len(self.result.ready_seconds)
        self.webhook = procs.spawn(WEBHOOK, argv, self.workdir / f"webhook-{n}.log", env)
        self.ports[WEBHOOK], self.ports["metrics"] = port, metrics_port
        ready = procs.wait_ready(self.webhook, port, self.context, deadline=30.0)
        self.result.ready_seconds.append(ready)
        return ready

    def _run(self) -> None:
        opts, say = self.options, self.say
        ca, tls_cert, tls_key = make_certificates(self.workdir / "certs")
        self.context = procs.client_context(ca)
        files: dict[str, Path] = {}
        for name, build in bodies.BODIES.items():
            data = bodies.dumps(build())
            files[name] = self.workdir / f"{name}.json"
            files[name].write_bytes(data)
            self.result.body_sizes[name] = len(data)

        floor_port = free_port()
        self.floor = procs.spawn(
            FLOOR,
            [
                sys.executable,
                "-m",
                "bench.floor",
                "--port",
                str(floor_port),
                "--tls-cert",
                str(tls_cert),
                "--tls-key",
                str(tls_key),
            ],
            self.workdir / "floor.log",
        )
        self.ports[FLOOR] = floor_port
        procs.wait_ready(self.floor, floor_port, self.context)
        ready = self._start_webhook(tls_cert, tls_key)
        say(f"webhook ready {ready:.2f} s after start; floor on :{floor_port}")

        for name, path in files.items():
            self._check(name, path)

        for path in files.values():
            for target in (FLOOR, WEBHOOK):
                load.run(
                    self._url(target),
                    path,
                    seconds=opts.warmup_seconds,
                    connections=opts.connections,
                    threads=opts.threads,
                )
        say(
            f"warm-up done; {opts.rounds} rounds x {len(files)} bodies x (floor, webhook), "
            f"{opts.seconds:g} s each, -c {opts.connections} -t {opts.threads}"
        )
        assert self.webhook is not None
        for round_no in range(1, opts.rounds + 1):
            for name, path in files.items():
                for target in (FLOOR, WEBHOOK):
                    server = self.floor if target == FLOOR else self.webhook
                    assert server is not None
                    cpu_before = procs.cpu_seconds(server.pid)
                    res = load.run(
                        self._url(target),
                        path,
                        seconds=opts.seconds,
                        connections=opts.connections,
                        threads=opts.threads,
                    )
                    cpu_after = procs.cpu_seconds(server.pid)
                    self.result.runs.setdefault((name, target), []).append(res)
                    if cpu_before is not None and cpu_after is not None and res.requests:
                        self.result.cpu_us.setdefault((name, target), []).append(
                            (cpu_after - cpu_before) / res.requests * 1e6
                        )
                    flag = (
                        ""
                        if res.ok
                        else f"  !! non-2xx {res.non_2xx}, socket errors {res.socket_errors}"
                    )
                    say(
                        f"  round {round_no} {name:<19} {target:<8} {res.rps:9.0f} req/s  "
                        f"p50 {res.p50_ms:6.2f} ms  p99 {res.p99_ms:6.2f} ms{flag}"
                    )
            mem = procs.memory(self.webhook.pid)
            if mem is None:
                self.result.errors.append(f"cannot read /proc/{self.webhook.pid}/status")
            else:
                self.result.rss.append(mem)
                say(
                    f"  round {round_no} webhook RSS {mem.rss_mb:.1f} MB (peak {mem.hwm_mb:.1f} MB)"
                )
            if not self.webhook.alive():
                raise procs.HarnessError(
                    f"the webhook died during round {round_no}:\n{self.webhook.log_tail()}"
                )

        self.result.metrics_reviews = self._metrics_sample()
        if opts.profile_dir is not None:
            for name, path in files.items():
                self._profile(name, path, opts.profile_dir)
        for _ in range(1, opts.ready_starts):
            if self.webhook is not None:
                self.webhook.stop()
            self.webhook = None
            ready = self._start_webhook(tls_cert, tls_key)
            say(f"webhook restart: ready {ready:.2f} s after start")

    def _profile(self, name: str, path: Path, out_dir: Path) -> None:
        """Load the webhook with ``path`` while py-spy samples it (not a measured run)."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            self.say("py-spy not found (pip install py-spy): no profile")
            return
        assert self.webhook is not None
        out_dir.mkdir(parents=True, exist_ok=True)
        svg = out_dir / f"webhook-{name}.svg"
        seconds = max(2, round(self.options.seconds))
        argv = [spy, "record", "--pid", str(self.webhook.pid), "--duration", str(seconds)]
        argv += ["--rate", "200", "--nonblocking", "-o", str(svg)]
        spying = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        load.run(
            self._url(WEBHOOK), path, seconds=seconds + 1, connections=self.options.connections
        )
        _, err = spying.communicate(timeout=seconds + 30)
        if spying.returncode == 0:
            self.say(f"profile of the webhook on {name}: {svg}")
        else:
            self.say(f"py-spy failed on {name}: {err.decode(errors='replace').strip()[-300:]}")

    def _url(self, target: str) -> str:
        return f"https://127.0.0.1:{self.ports[target]}/mutate"

    def _check(self, name: str, path: Path) -> None:
        body = path.read_bytes()
        uid = orjson.loads(body)["request"]["uid"]
        for target in (FLOOR, WEBHOOK):
            try:
                status, payload = procs.https_request(
                    self.ports[target], self.context, "POST", "/mutate", body
                )
            except (OSError, http.client.HTTPException) as exc:
                raise procs.HarnessError(f"{target}: POST /mutate failed: {exc}") from None
            problem, ops = check_patch(status, payload, uid)
            if target == FLOOR:
                if problem is not None:
                    raise procs.HarnessError(f"the floor's answer is wrong for {name}: {problem}")
                continue
            self.result.patch_problems[name] = problem
            self.result.patch_ops[name] = ops
            if problem is None:
                self.say(f"webhook patches {name} ({len(body)} bytes): {ops} ops")
            else:
                self.say(
                    f"ERROR: the webhook's answer to {name} is unusable: {problem}; "
                    "its numbers for this body measure nothing"
                )

    def _metrics_sample(self) -> str | None:
        """The webhook's review counter lines from ``/metrics`` (proves metrics were on)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["metrics"], timeout=5)
        try:
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode(errors="replace")
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()
        lines = [
            ln
            for ln in text.splitlines()
            if "review" in ln and not ln.startswith("#") and "_total" in ln
        ]
        return "; ".join(lines[:4]) if lines else "(no review counter found)"


def rows(result: AdmissionResult) -> list[Row]:
    """Targets of the admission and memory parts."""
    out: list[Row] = []
    for name in result.body_sizes:
        problem = result.patch_problems.get(name)
        floor = result.runs.get((name, FLOOR), [])
        hook = result.runs.get((name, WEBHOOK), [])
        ratios = result.ratios(name)
        broken = problem is not None or not hook or any(not r.ok for r in hook)
        note = problem or ("non-2xx answers or socket errors under load" if broken else "")
        if ratios:
            ratio = median(ratios)
            measured = (
                f"{ratio:.2f}x ({median([r.rps for r in hook]):.0f} vs "
                f"{median([r.rps for r in floor]):.0f} req/s)"
            )
            ok: bool | None = None if broken else ratio >= RATIO_TARGET
        else:
            measured, ok = "not measured", None
        floor_cpu = result.cpu_us.get((name, FLOOR))
        hook_cpu = result.cpu_us.get((name, WEBHOOK))
        rate_note = note
        if not rate_note and floor_cpu and hook_cpu:
            rate_note = f"CPU/request {median(hook_cpu):.0f} vs {median(floor_cpu):.0f} us"
        out.append(
            Row(
                f"throughput webhook/floor, {name}",
                measured,
                f">= {RATIO_TARGET}x",
                verdict(ok),
                rate_note,
            )
        )
        if hook:
            p99 = median([r.p99_ms for r in hook])
            worst = max(r.p99_ms for r in hook)
            p50 = median([r.p50_ms for r in hook])
            out.append(
                Row(
                    f"webhook p99 at 16 conns, {name}",
                    f"{p99:.2f} ms (worst round {worst:.2f}; p50 {p50:.2f})",
                    f"<= {P99_TARGET_MS:g} ms",
                    verdict(None if broken else p99 <= P99_TARGET_MS),
                    note
                    or (f"floor p99 {median([r.p99_ms for r in floor]):.2f} ms" if floor else ""),
                )
            )
    if result.rss:
        hwm = max(m.hwm_mb for m in result.rss)
        out.append(
            Row(
                "webhook RSS high-water mark",
                f"{hwm:.1f} MB",
                f"<= {RSS_TARGET_MB:g} MB",
                verdict(hwm <= RSS_TARGET_MB),
            )
        )
        if len(result.rss) >= 3:
            grow = result.rss[-1].rss_mb - result.rss[1].rss_mb
            out.append(
                Row(
                    "webhook RSS growth, round 2 -> last",
                    f"{grow:+.1f} MB ({' '.join(f'{m.rss_mb:.1f}' for m in result.rss)})",
                    f"< {GROWTH_LIMIT_MB:g} MB",
                    verdict(grow < GROWTH_LIMIT_MB),
                )
            )
        else:
            out.append(
                Row(
                    "webhook RSS growth, round 2 -> last",
                    "needs >= 3 rounds",
                    f"< {GROWTH_LIMIT_MB:g} MB",
                    "n/a",
                )
            )
    if result.ready_seconds:
        worst = max(result.ready_seconds)
        starts = len(result.ready_seconds)
        out.append(
            Row(
                "webhook start to /readyz OK",
                f"{median(result.ready_seconds):.2f} s median of {starts} (worst {worst:.2f})",
                f"< {READY_TARGET_S:g} s",
                verdict(median(result.ready_seconds) < READY_TARGET_S),
            )
        )
    return out
