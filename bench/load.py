"""Drive ``wrk`` (the compiled HTTP load generator) and parse what it prints.

``bench/wrk/post.lua`` makes wrk POST one body file and print a ``BENCH_JSON {...}`` summary line;
the human-readable ``--latency`` report is parsed as a fallback (and is what the tests pin down).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

LUA_SCRIPT: Final = Path(__file__).with_name("wrk") / "post.lua"
"""The wrk script: POST the body file given after ``--``."""
JSON_MARK: Final = "BENCH_JSON "

_UNITS_MS: Final = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+([\d.]+)(us|ms|s|m|h)\s*$")
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)")
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkError(Exception):
    """wrk is missing, failed, or printed nothing we can read."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int = 0
    socket_errors: int = 0

    @property
    def ok(self) -> bool:
        """Every response was 2xx/3xx and no socket broke."""
        return self.requests > 0 and self.non_2xx == 0 and self.socket_errors == 0


def parse_output(text: str) -> WrkResult:
    """The result in wrk's output: the ``BENCH_JSON`` line when present, else the text report."""
    for line in text.splitlines():
        if line.startswith(JSON_MARK):
            data = json.loads(line[len(JSON_MARK) :])
            seconds = data["duration_us"] / 1e6
            requests = int(data["requests"])
            return WrkResult(
                requests=requests,
                seconds=seconds,
                rps=requests / seconds if seconds > 0 else 0.0,
                p50_ms=data["p50_us"] / 1000.0,
                p99_ms=data["p99_us"] / 1000.0,
                non_2xx=int(data["errors_status"]),
                socket_errors=sum(
                    int(data[f"errors_{k}"]) for k in ("connect", "read", "write", "timeout")
                ),
            )
    return parse_text(text)


def parse_text(text: str) -> WrkResult:
    """Parse wrk's human-readable report (run with ``--latency``)."""
    percentiles: dict[float, float] = {}
    rps: float | None = None
    requests, seconds, non_2xx, socket_errors = 0, 0.0, 0, 0
    for line in text.splitlines():
        if m := _PERCENTILE.match(line):
            percentiles[float(m.group(1))] = float(m.group(2)) * _UNITS_MS[m.group(3)]
        elif m := _RPS.match(line):
            rps = float(m.group(1))
        elif m := _TOTAL.match(line):
            requests = int(m.group(1))
            seconds = float(m.group(2)) * _UNITS_MS[m.group(3)] / 1000.0
        elif m := _NON_2XX.search(line):
            non_2xx = int(m.group(1))
        elif m := _SOCKET.search(line):
            socket_errors = sum(int(g) for g in m.groups())
    if rps is None or 50.0 not in percentiles or 99.0 not in percentiles:
        raise WrkError("no Requests/sec or latency distribution in wrk's output (--latency?)")
    return WrkResult(
        requests=requests,
        seconds=seconds,
        rps=rps,
        p50_ms=percentiles[50.0],
        p99_ms=percentiles[99.0],
        non_2xx=non_2xx,
        socket_errors=socket_errors,
    )


def wrk_binary() -> str:
    """Path of ``wrk``; `WrkError` saying how to install it when missing."""
    found = shutil.which("wrk")
    if found is None:
        raise WrkError("wrk is not installed: apt-get install -y wrk (make bench does it)")
    return found


def command(
    url: str, body_file: Path, *, seconds: float, connections: int, threads: int
) -> list[str]:
    """The wrk command line for one run."""
    return [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
        "--",
        str(body_file),
    ]


def run(
    url: str, body_file: Path, *, seconds: float, connections: int = 16, threads: int = 2
) -> WrkResult:
    """Load ``url`` with POSTs of ``body_file`` for ``seconds``; `WrkError` when wrk fails."""
    argv = command(url, body_file, seconds=seconds, connections=connections, threads=threads)
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
    except subprocess.TimeoutExpired:
        raise WrkError(f"wrk did not finish within {seconds + 30:.0f} s") from None
    if done.returncode != 0:
        raise WrkError(f"wrk exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return parse_output(done.stdout)
