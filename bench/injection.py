"""Injector benchmark: ``vsi-injector`` as a whole process against ``bao kv get``, local OpenBao.

Wall time includes interpreter start, imports, login, KV detection, the fetches (or create-only
writes) and the file writes: what an init container costs a pod start. The reference is the OpenBao
CLI (a Go binary) reading one key from the same server in the same run. Repetitions are interleaved
(created, present, bao, next count...) so drift on a shared machine hits every case alike.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bench import procs
from bench.report import Growth, Row, describe_growth, growth, median, verdict
from demo.openbao import free_port

Say = Callable[[str], None]

ROOT_TOKEN: Final = "vsi-bench-root-token"
"""The throw-away dev server's root token (benchmark only)."""
MOUNT: Final = "secret"
NAMESPACE: Final = "bench"
ONE_TARGET: Final = 3.0
MANY_TARGET: Final = 5.0
MANY: Final = 32
ROOK_PVC: Final = "set1-data-0-bench"
CREATED: Final = "created"
PRESENT: Final = "present"


@dataclass(frozen=True)
class InjectorOptions:
    reps: int = 5
    counts: tuple[int, ...] = (1, 8, 32, 128)
    deadline: float = 60.0


@dataclass
class InjectorResult:
    times: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    """(created|present, volume count) -> wall seconds per repetition."""
    bao: list[float] = field(default_factory=list)
    rook: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def med(self, case: str, count: int) -> float:
        return median(self.times.get((case, count), []))

    def growth(self, case: str) -> Growth | None:
        counts = sorted(n for c, n in self.times if c == case and self.times[(c, n)])
        if len(counts) < 2:
            return None
        return growth(counts, [self.med(case, n) for n in counts])


def tool(name: str) -> str:
    """An executable next to this Python (the project venv), else on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise procs.HarnessError(f"{name} is not installed (pip install -e '.[dev]')")
    return found


class InjectorBench:
    def __init__(self, options: InjectorOptions, workdir: Path, say: Say) -> None:
        self.options = options
        self.workdir = workdir
        self.say = say
        self.result = InjectorResult()
        self.port = free_port()
        self.addr = f"http://127.0.0.1:{self.port}"
        home = str(workdir)  # the dev server writes ~/.vault-token: keep it out of the real home
        self.bao_env = procs.clean_env(
            HOME=home,
            BAO_ADDR=self.addr,
            BAO_TOKEN=ROOT_TOKEN,
            VAULT_ADDR=self.addr,
            VAULT_TOKEN=ROOT_TOKEN,
        )
        self.injector_env = procs.clean_env(
            HOME=home, VAULT_ADDR=self.addr, VAULT_TOKEN=ROOT_TOKEN, VAULT_BACKEND_PATH=MOUNT
        )
        self.outputs = 0

    def run(self) -> InjectorResult:
        server = procs.spawn(
            "openbao",
            [
                tool("bao"),
                "server",
                "-dev",
                f"-dev-root-token-id={ROOT_TOKEN}",
                f"-dev-listen-address=127.0.0.1:{self.port}",
            ],
            self.workdir / "openbao.log",
            self.bao_env,
        )
        try:
            self._wait_healthy(server)
            self._run()
        finally:
            server.stop()
        return self.result

    def _wait_healthy(self, server: procs.Process, deadline: float = 30.0) -> None:
        limit = time.monotonic() + deadline
        while time.monotonic() < limit:
            if not server.alive():
                raise procs.HarnessError(f"OpenBao exited early:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.addr}/v1/sys/health", timeout=1) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise procs.HarnessError(
            f"OpenBao not healthy within {deadline:.0f} s:\n{server.log_tail()}"
        )

    def _timed(self, argv: Sequence[str], env: dict[str, str], what: str) -> float | None:
        """Wall seconds of one process run to completion; None (error recorded) when it fails."""
        started = time.perf_counter()
        try:
            done = subprocess.run(
                list(argv),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=self.options.deadline + 30,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.result.errors.append(f"{what}: timed out")
            return None
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip()[-400:]
            message = f"{what}: exit {done.returncode}: {tail}"
            if message not in self.result.errors:
                self.result.errors.append(message)
                self.say(f"ERROR: {message}")
            return None
        return elapsed

    def _injector(self, layout: str, volumes: Sequence[str]) -> float | None:
        self.outputs += 1
        out = self.workdir / "keys" / str(self.outputs)
        out.mkdir(parents=True)
        argv = [tool("vsi-injector"), "--layout", layout]
        for volume in volumes:
            argv += ["--volume", volume]
        argv += ["--output-dir", str(out), "--namespace", NAMESPACE]
        argv += ["--deadline", f"{self.options.deadline:g}"]
        took = self._timed(
            argv, self.injector_env, f"vsi-injector --layout {layout} x{len(volumes)}"
        )
        shutil.rmtree(out, ignore_errors=True)
        return took

    def _bao(self, *args: str) -> float | None:
        return self._timed([tool("bao"), *args], self.bao_env, f"bao {' '.join(args[:2])}")

    def _run(self) -> None:
        opts, res = self.options, self.result
        # The reference key: one volume-keys key, created by the injector itself.
        if self._injector("volume-keys", ["pvc-reference"]) is None:
            raise procs.HarnessError(f"vsi-injector cannot create a key: {res.errors[-1]}")
        reference = f"vault-storage-injector/{NAMESPACE}/pvc-reference"
        rook_id = f"rook-ceph-osd-encryption-key-{ROOK_PVC}"
        rook_key = base64.b64encode(secrets.token_bytes(128)).decode("ascii")
        # The value goes on argv of a throw-away dev server's CLI: benchmark data, not a secret.
        if self._bao("kv", "put", f"-mount={MOUNT}", rook_id, f"{rook_id}={rook_key}") is None:
            res.errors.append("cannot store the Rook-style key; rook layout not timed")
            rook_id = ""
        self.say(
            f"OpenBao at {self.addr}; {opts.reps} repetitions of volumes {list(opts.counts)} "
            "(keys created, then present) and bao kv get"
        )
        for rep in range(opts.reps):
            for count in opts.counts:
                volumes = [f"pvc-r{rep}-n{count}-{i}" for i in range(count)]
                for case in (CREATED, PRESENT):
                    took = self._injector("volume-keys", volumes)
                    if took is not None:
                        res.times.setdefault((case, count), []).append(took)
                took = self._bao("kv", "get", f"-mount={MOUNT}", reference)
                if took is not None:
                    res.bao.append(took)
            if rook_id:
                took = self._injector("rook", [ROOK_PVC])
                if took is not None:
                    res.rook.append(took)
        bao = median(res.bao)
        for count in opts.counts:
            created, present = res.med(CREATED, count), res.med(PRESENT, count)
            self.say(
                f"  {count:>4} volumes: created {created * 1000:7.1f} ms ({created / bao:.2f}x),"
                f" present {present * 1000:7.1f} ms ({present / bao:.2f}x) of bao kv get"
            )
        self.say(f"  bao kv get one key: {bao * 1000:.1f} ms (median of {len(res.bao)})")
        if res.rook:
            rook = median(res.rook)
            self.say(
                f"  rook layout, 1 volume, key present: {rook * 1000:.1f} ms ({rook / bao:.2f}x)"
            )


def rows(result: InjectorResult) -> list[Row]:
    """Targets of the injector part, and its scaling verdicts."""
    out: list[Row] = []
    bao = median(result.bao)
    if not result.bao:
        return [
            Row(
                "injector vs bao kv get",
                "bao kv get not measured",
                "",
                "ERROR",
                "; ".join(result.errors)[:120],
            )
        ]
    for count, limit in ((1, ONE_TARGET), (MANY, MANY_TARGET)):
        for case in (PRESENT, CREATED):
            times = result.times.get((case, count), [])
            if not times:
                out.append(
                    Row(
                        f"injector {count} vol, keys {case}",
                        "not measured",
                        f"<= {limit:g}x bao",
                        "ERROR",
                    )
                )
                continue
            ratio = median(times) / bao
            out.append(
                Row(
                    f"injector {count} vol, keys {case}",
                    f"{ratio:.2f}x ({median(times) * 1000:.0f} ms vs bao {bao * 1000:.0f} ms)",
                    f"<= {limit:g}x bao",
                    verdict(ratio <= limit),
                )
            )
    if result.rook:
        ratio = median(result.rook) / bao
        out.append(
            Row(
                "injector rook layout 1 vol, key present",
                f"{ratio:.2f}x ({median(result.rook) * 1000:.0f} ms)",
                f"<= {ONE_TARGET:g}x bao",
                verdict(ratio <= ONE_TARGET),
            )
        )
    for case in (PRESENT, CREATED):
        g = result.growth(case)
        if g is not None:
            out.append(
                Row(
                    f"injector time vs volumes, keys {case}",
                    describe_growth(g),
                    "close to linear",
                    verdict(g.linear),
                    f"largest {g.times[-1] * 1000:.0f} ms vs line {g.predicted_last * 1000:.0f} ms",
                )
            )
    return out
