"""``python -m bench`` (``make bench``): the benchmarks of issues 7 and 12, one PASS/MISS table.

A missed target is printed, not an exit failure; the exit code is 1 only when the harness itself
breaks (a server does not start, wrk is missing), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import admission, caches, connections, injection, load, procs, scaling
from bench.report import Row, format_table, markdown_table

PARTS = ("admission", "injector", "scaling", "connections", "caches")


def say(text: str) -> None:
    print(text, flush=True)


def machine() -> str:
    """nproc, CPU model, Python, load average: the context every number needs."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average {load_average()}"
    )


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: short runs, few repetitions"
    )
    parser.add_argument(
        "--only", choices=PARTS, action="append", help="run only this part (repeatable)"
    )
    parser.add_argument("--rounds", type=int, help="A B rounds of the admission load (default 3)")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--reps", type=int, help="injector repetitions per case (default 5)")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        type=Path,
        help="after the admission rounds, py-spy flame graphs of the webhook under load into DIR",
    )
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs, bodies)"
    )
    return parser


def budget_parts(parts: Sequence[str], workdir: Path, quick: bool, broken: list[str]) -> list[Row]:
    """Issue 12's parts: connections (memory per connection, a flood) and caches at scale."""
    rows: list[Row] = []
    if "connections" in parts:
        say("\n== connections: memory per connection, and a flood against the cap ==")
        cbench = connections.ConnectionBench(workdir / "connections", say)
        cbench.workdir.mkdir()
        try:
            cresult = cbench.run()
        except (procs.HarnessError, OSError) as exc:
            broken.append(f"connections: {exc}")
            say(f"HARNESS ERROR (connections): {exc}")
            cresult = cbench.result
        rows += connections.rows(cresult)
    if "caches" in parts:
        say("\n== caches: namespaces and Secrets at scale, served by the API double ==")
        kbench = caches.CacheBench(workdir / "caches", say, quick=quick)
        kbench.workdir.mkdir()
        try:
            kresult = kbench.run()
        except (procs.HarnessError, OSError) as exc:
            broken.append(f"caches: {exc}")
            say(f"HARNESS ERROR (caches): {exc}")
            kresult = kbench.result
        rows += caches.rows(kresult)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    parts = args.only or list(PARTS)
    quick = args.quick
    adm = admission.AdmissionOptions(
        rounds=args.rounds or 3,
        seconds=args.duration or (1.0 if quick else 5.0),
        warmup_seconds=1.0 if quick else 2.0,
        connections=args.connections,
        threads=args.threads,
        ready_starts=1 if quick else 3,
        profile_dir=args.profile.resolve() if args.profile else None,
    )
    inj = injection.InjectorOptions(
        reps=args.reps or (1 if quick else 5),
        counts=(1, 8, 32) if quick else (1, 8, 32, 128),
    )
    scaling_time = 0.05 if quick else 0.5
    if adm.rounds < 1 or adm.seconds < 1 or inj.reps < 1:
        say("python -m bench: error: --rounds, --duration and --reps must be >= 1")
        return 2

    started = time.monotonic()
    say(f"vault-storage-injector benchmarks, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    say(f"machine: {machine()}")
    say("shared machines are noisy: compare the ratios, not the absolute numbers")
    rows: list[Row] = []
    broken: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="vsi-bench-"))
    try:
        if "admission" in parts:
            say("\n== admission: webhook vs aiohttp floor (wrk, keep-alive HTTPS) ==")
            bench = admission.AdmissionBench(adm, workdir / "admission", say)
            bench.workdir.mkdir()
            try:
                result = bench.run()
            except (procs.HarnessError, load.WrkError) as exc:
                broken.append(f"admission: {exc}")
                say(f"HARNESS ERROR (admission): {exc}")
                result = bench.result
            rows += admission.rows(result)
            if result.metrics_reviews:
                say(f"metrics on: {result.metrics_reviews}")
        if "injector" in parts:
            say("\n== injector: vsi-injector vs bao kv get (local OpenBao) ==")
            ibench = injection.InjectorBench(inj, workdir / "injector", say)
            ibench.workdir.mkdir()
            try:
                iresult = ibench.run()
            except procs.HarnessError as exc:
                broken.append(f"injector: {exc}")
                say(f"HARNESS ERROR (injector): {exc}")
                iresult = ibench.result
            rows += injection.rows(iresult)
        if "scaling" in parts:
            say("\n== scaling: admission time vs object size (in-process) ==")
            sresult = scaling.run(scaling_time, say)
            if sresult.error:
                say(f"ERROR (scaling): {sresult.error}")
            rows += scaling.rows(sresult)
        rows += budget_parts(parts, workdir, quick, broken)
    finally:
        if args.keep:
            say(f"\nwork directory kept: {workdir}")
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)

    took = time.monotonic() - started
    say(f"\n== targets (issues 7 and 12), {took:.0f} s, load average {load_average()} ==")
    say(format_table(rows))
    if args.markdown:
        say("\n" + markdown_table(rows))
    misses = sum(r.verdict == "MISS" for r in rows)
    errors = sum(r.verdict == "ERROR" for r in rows)
    say(f"\n{len(rows)} rows: {misses} missed, {errors} not measured")
    if broken:
        say("the harness broke: " + " | ".join(b.splitlines()[0] for b in broken))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
