"""The connection and cache benchmarks' pure parts: their verdicts, the size walk, the cluster.

Nothing here times anything; ``python -m bench --only connections`` / ``--only caches`` measure.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from bench import caches, connections, kubedouble
from webhook.server.settings import DEFAULT_MAX_CONNECTIONS


def test_connection_rows_judge_each_kind_and_the_flood_against_the_budget() -> None:
    result = connections.ConnectionResult(
        kib={
            ("webhook", "never-tls"): 2.0,
            ("webhook", "idle-tls"): 26.0,
            ("webhook", "after-review"): 120.0,
            ("floor", "idle-tls"): 283.0,
        },
        flood_growth_mib=60.0,
        flood_review_s=0.2,
        after_close_mib=4.0,
        baseline_mib=52.0,
    )
    rows = {row.target: row for row in connections.rows(result)}
    assert rows["memory per connection: TCP, never starts TLS"].verdict == "PASS"
    idle = rows["memory per connection: TLS handshake done, idle"]
    assert (idle.verdict, idle.note) == ("PASS", "asyncio's own TLS (floor): 283 KiB")
    assert rows["memory per connection: kept alive after a review"].verdict == "MISS"
    flood = rows["RSS growth, 2000 idle TLS + 1000 never-TLS sockets"]
    assert (flood.verdict, flood.limit) == ("MISS", "<= 50 MiB (cap 512 x 100 KiB)")
    assert rows["review during that flood"].verdict == "PASS"
    assert rows["RSS above baseline once the flood closed"].verdict == "PASS"


def test_connection_rows_without_figures_say_not_measured() -> None:
    rows = connections.rows(connections.ConnectionResult())
    assert {row.verdict for row in rows} == {"ERROR"}
    assert {row.measured for row in rows} == {"not measured"}


def test_the_flood_is_judged_against_the_default_cap() -> None:
    assert connections.CAP == DEFAULT_MAX_CONNECTIONS


def test_cache_rows_judge_the_list_time_and_the_memory() -> None:
    result = caches.CacheResult(
        list_seconds=[1.0, 30.0, 2.0],
        cache_bytes=3 * 2**20,
        namespaces=10_000,
        secrets_kept=100,
        rss_with_caches_mib=99.0,
        rss_without_mib=52.0,
        secret_names=3,
        requests={"list secrets": 300, "watch secrets": 300, "list namespaces": 20},
        watches=301,
    )
    listed, memory, requests, watches, rss = caches.rows(result)
    assert (listed.measured, listed.verdict) == ("2.00 s (median of 3)", "PASS")
    assert (memory.measured, memory.verdict) == ("3.0 MiB", "PASS")
    assert memory.note.startswith("315 B per namespace")
    assert (requests.measured, requests.verdict) == ("620", "n/a")
    assert requests.note == "300 list secrets, 300 watch secrets, 20 list namespaces"
    assert (watches.measured, watches.verdict) == ("301", "n/a")
    assert watches.note.startswith("3 Secret names")
    assert (rss.measured, rss.note) == ("99.0 MiB", "--no-kubernetes: 52.0 MiB")


def test_cache_rows_say_when_the_requests_were_not_counted() -> None:
    _, _, requests, watches, _ = caches.rows(caches.CacheResult())
    assert requests.measured == watches.measured == "not measured"


@dataclass(frozen=True)
class _Info:
    name: str
    keys: frozenset[str]


def test_retained_bytes_counts_shared_objects_once_and_skips_plumbing() -> None:
    shared = "x" * 1000
    one = {"a": shared}
    two = {"a": shared, "b": shared}
    alone = caches.retained_bytes(one, skip=())
    both = caches.retained_bytes([one, two], skip=())
    assert both < alone + caches.retained_bytes(two, skip=())  # the string is counted once
    assert caches.retained_bytes(_Info("n", frozenset({"k"})), skip=()) > sys.getsizeof("n")
    assert caches.retained_bytes({"task": bytearray(10_000)}, skip=(bytearray,)) < 1000


def test_the_benchmark_cluster_has_the_advertised_shape() -> None:
    objs = kubedouble.cluster(namespaces=50, enabled=5, secrets=40)
    namespaces = [o for o in objs if o["kind"] == "Namespace"]
    secrets = [o for o in objs if o["kind"] == "Secret"]
    assert len(namespaces) == 50
    opted_in = [n for n in namespaces if n["metadata"]["labels"].get(kubedouble.ENABLED_LABEL)]
    assert [n["metadata"]["name"] for n in opted_in] == [f"ns-{n:05d}" for n in range(5)]
    assert len(secrets) == 40
    assert {s["metadata"]["namespace"] for s in secrets} == {f"ns-{n:05d}" for n in range(5)}
    assert sum(s["metadata"]["name"] == "px-vault" for s in secrets) == 5
