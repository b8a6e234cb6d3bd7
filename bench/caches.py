"""Cache benchmark: the namespace and Secret caches at 10 000 namespaces and 50 000 Secrets.

The API double (`bench.kubedouble`, in a process of its own) holds 10 000 namespaces, 100 of them
opted in, and 50 000 Secrets of about 1 KB spread over those 100 (one ``px-vault`` each, the
Secret the built-in profiles name). Measured, over real HTTP:

- the full list: from `KubeCaches.start` to `KubeCaches.is_synced` (every namespace in pages of
  500, then the Secrets of each opted-in namespace), which is also what a relist after a
  ``410 Gone`` does; the median of `LISTS` fresh caches;
- what the caches keep: the bytes of every object reachable from them once synced (labels,
  names, key names), per namespace and per Secret kept;
- what the caches ask of the API server: the requests the full list makes (per verb and
  resource, counted by the double) and the watches they then hold open;
- the webhook process itself: the RSS of ``vsi-webhook serve`` with its caches synced to the
  double, next to one started with ``--no-kubernetes``.

The caches follow the Secret names of the built-in profiles, as ``vsi-webhook serve`` does with
no profiles file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Final

from bench import admission, procs
from bench.report import Row, number, verdict
from demo.openbao import free_port

Say = Callable[[str], None]

NAMESPACES: Final = 10_000
ENABLED: Final = 100
SECRETS: Final = 50_000
LISTS: Final = 3
SYNC_DEADLINE_S: Final = 120.0
SETTLE_S: Final = 1.0
"""The watches count as held once their number has not changed for this long."""
SETTLE_DEADLINE_S: Final = 30.0
LIST_TARGET_S: Final = 10.0
"""A relist must stay well below the apiserver's watch timeout (minutes) and the readiness
probe's patience; 10 s at this size leaves a wide margin."""
WATCH_TIMEOUT_S: Final = 300
"""The caches' watch timeout (`webhook.server.watch.WATCH_TIMEOUT_SECONDS`)."""
CACHE_TARGET_MIB: Final = 16.0
"""What docs/server.md budgets for the caches at this size."""


@dataclass
class CacheResult:
    list_seconds: list[float] = field(default_factory=list)
    cache_bytes: int | None = None
    namespaces: int = 0
    secrets_kept: int = 0
    rss_with_caches_mib: float | None = None
    rss_without_mib: float | None = None
    secret_names: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    """What the first full list asked the double, per ``"<verb> <resource>"``."""
    watches: int | None = None
    """Watch streams the synced caches hold open."""
    errors: list[str] = field(default_factory=list)


def retained_bytes(root: object, skip: tuple[type, ...]) -> int:
    """Bytes of every object reachable from ``root`` through containers, dataclasses and
    ``vars()``, each counted once, not descending into instances of ``skip``."""
    seen: set[int] = set()
    total = 0
    stack: list[object] = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, skip):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        stack.extend(_children(item))
    return total


def _children(item: object) -> Iterator[object]:
    if isinstance(item, dict | MappingProxyType):
        yield from item.keys()
        yield from item.values()
    elif isinstance(item, list | tuple | set | frozenset):
        yield from item
    elif dataclasses.is_dataclass(item) and not isinstance(item, type):
        yield from (getattr(item, f.name) for f in dataclasses.fields(item))
    elif hasattr(item, "__dict__") and not isinstance(item, type):
        yield from vars(item).values()


class CacheBench:
    """Starts the double (and two webhooks) in ``workdir`` and measures the caches."""

    def __init__(self, workdir: Path, say: Say, *, quick: bool = False) -> None:
        self.workdir = workdir
        self.say = say
        self.result = CacheResult()
        self.lists = 1 if quick else LISTS
        self._double: subprocess.Popen[str] | None = None

    def run(self) -> CacheResult:
        try:
            url = self._start_double()
            asyncio.run(self._measure(url))
            self._webhook_rss(url)
        finally:
            if self._double is not None:
                self._double.terminate()
                self._double.wait(10)
        return self.result

    def _start_double(self) -> str:
        argv = [sys.executable, "-m", "bench.kubedouble", "--namespaces", str(NAMESPACES)]
        argv += ["--enabled", str(ENABLED), "--secrets", str(SECRETS)]
        self._double = double = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert double.stdout is not None
        line = _first_line(double.stdout, 60.0)
        if not line.startswith("URL "):
            raise procs.HarnessError(f"the API double did not start: {line!r}")
        return line.split()[1]

    async def _measure(self, url: str) -> None:
        from kubernetes_asyncio.client import ApiClient, Configuration

        from doubles.kubeapi import TOKEN
        from webhook.core.profiles import default_config
        from webhook.server.caches import CONNECTIONS, KubeCaches

        names = default_config().secret_names
        self.result.secret_names = len(names)
        configuration = Configuration(host=url)
        configuration.api_key = {"BearerToken": f"Bearer {TOKEN}"}
        configuration.connection_pool_maxsize = CONNECTIONS
        for attempt in range(self.lists):
            async with ApiClient(configuration) as client:
                caches = KubeCaches(client, webhook_namespace="vsi", secret_names=names)
                before = await _stats(url) if attempt == 0 else None
                started = time.perf_counter()
                await caches.start()
                try:
                    deadline = started + SYNC_DEADLINE_S
                    while not caches.is_synced():
                        if time.perf_counter() > deadline:
                            raise procs.HarnessError("the caches did not sync in time")
                        await asyncio.sleep(0.005)
                    took = time.perf_counter() - started
                    self.result.list_seconds.append(took)
                    self.say(f"  full list {attempt + 1}: {took:.2f} s")
                    if attempt == 0:
                        self._sizes(caches)
                    if before is not None:
                        await self._requests(url, before)
                finally:
                    await caches.close()

    async def _requests(self, url: str, before: dict[str, Any]) -> None:
        """What the list cost the double, and the watches held once their number settles."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_DEADLINE_S
        last, since = -1, loop.time()
        while loop.time() < deadline:
            now = await _stats(url)
            if now["watches"] != last:
                last, since = now["watches"], loop.time()
            elif loop.time() - since >= SETTLE_S:
                break
            await asyncio.sleep(0.1)
        counts = {
            key: count - before["requests"].get(key, 0)
            for key, count in now["requests"].items()
            if count > before["requests"].get(key, 0)
        }
        self.result.requests = dict(sorted(counts.items()))
        self.result.watches = int(now["watches"])
        shown = ", ".join(f"{count} {key}" for key, count in self.result.requests.items())
        self.say(f"  API requests of the full list: {shown}; watches held: {last}")

    def _sizes(self, caches: Any) -> None:
        from kubernetes_asyncio.client import ApiClient, CoreV1Api

        from webhook.server.watch import ListWatch

        self.result.cache_bytes = retained_bytes(
            caches, skip=(ApiClient, CoreV1Api, ListWatch, asyncio.Task)
        )
        self.result.namespaces = sum(
            caches.namespace_labels(f"ns-{n:05d}") is not None for n in range(NAMESPACES)
        )
        self.result.secrets_kept = sum(
            caches.secret(f"ns-{n:05d}", "px-vault") not in (None, "unknown")
            for n in range(ENABLED)
        )
        self.say(
            f"  caches keep {self.result.cache_bytes / 2**20:.1f} MiB for "
            f"{self.result.namespaces} namespaces and {self.result.secrets_kept} Secrets"
        )

    def _webhook_rss(self, url: str) -> None:
        from doubles.kubeapi import kubeconfig_for

        kubeconfig = self.workdir / "kubeconfig"
        kubeconfig.write_text(kubeconfig_for(url))
        ca, cert, key = admission.make_certificates(self.workdir / "certs")
        context = procs.client_context(ca)
        for with_caches in (True, False):
            port = free_port()
            argv = [admission.webhook_binary(), "serve", "--tls-cert", str(cert), "--tls-key"]
            argv += [str(key), "--host", "127.0.0.1", "--port", str(port), "--metrics-port", "0"]
            env = procs.clean_env()
            if with_caches:
                env["KUBECONFIG"] = str(kubeconfig)
            else:
                env.pop("KUBECONFIG", None)
                argv.append("--no-kubernetes")
            name = "webhook-caches" if with_caches else "webhook-plain"
            proc = procs.spawn(name, argv, self.workdir / f"{name}.log", env)
            try:
                procs.wait_ready(proc, port, context, deadline=SYNC_DEADLINE_S)
                time.sleep(1.0)
                mem = procs.memory(proc.pid)
            finally:
                proc.stop()
            rss = mem.rss_mb if mem is not None else None
            if with_caches:
                self.result.rss_with_caches_mib = rss
            else:
                self.result.rss_without_mib = rss
        self.say(
            f"  webhook RSS with caches synced {self.result.rss_with_caches_mib:.1f} MiB, "
            f"with --no-kubernetes {self.result.rss_without_mib:.1f} MiB"
        )


async def _stats(url: str) -> dict[str, Any]:
    """The double's ``/_double/stats``."""
    import aiohttp

    from bench.kubedouble import STATS_PATH

    async with aiohttp.ClientSession() as session, session.get(url + STATS_PATH) as response:
        body: dict[str, Any] = await response.json()
        return body


def _first_line(stream: IO[str], seconds: float) -> str:
    """The first line ``stream`` gives within ``seconds`` (the double's ``URL`` line)."""
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(seconds):
            raise procs.HarnessError(f"the API double printed nothing in {seconds:g} s")
    return stream.readline().strip()


def rows(result: CacheResult) -> list[Row]:
    """The list-time and memory rows."""
    size = f"{NAMESPACES} namespaces, {SECRETS} Secrets"
    took = statistics.median(result.list_seconds) if result.list_seconds else None
    out = [
        Row(
            f"cache full list (start-up or relist after 410), {size}",
            f"{took:.2f} s (median of {len(result.list_seconds)})" if took else "not measured",
            f"<= {LIST_TARGET_S:g} s",
            verdict(None if took is None else took <= LIST_TARGET_S),
            f"pages of 500; {ENABLED} namespaces opted in",
        )
    ]
    kept = result.cache_bytes
    per_ns = kept / max(result.namespaces, 1) if kept else None
    out.append(
        Row(
            f"cache memory, {size}",
            f"{kept / 2**20:.1f} MiB" if kept else "not measured",
            f"<= {CACHE_TARGET_MIB:g} MiB",
            verdict(None if kept is None else kept / 2**20 <= CACHE_TARGET_MIB),
            f"{number(per_ns)} B per namespace; {result.secrets_kept} Secrets kept (key names)"
            if per_ns
            else "",
        )
    )
    requests = sum(result.requests.values())
    out.append(
        Row(
            f"API requests of the full list, {ENABLED} namespaces opted in",
            f"{requests}" if requests else "not measured",
            "n/a",
            "n/a",
            ", ".join(f"{count} {key}" for key, count in result.requests.items()),
        )
    )
    out.append(
        Row(
            f"watches the synced caches hold, {ENABLED} namespaces opted in",
            f"{result.watches}" if result.watches is not None else "not measured",
            "n/a",
            "n/a",
            f"{result.secret_names} Secret names (the built-in profiles'); each watch is "
            f"opened again every {WATCH_TIMEOUT_S} s",
        )
    )
    with_caches, without = result.rss_with_caches_mib, result.rss_without_mib
    out.append(
        Row(
            f"webhook RSS with its caches synced, {size}",
            f"{number(with_caches)} MiB" if with_caches else "not measured",
            "n/a",
            "n/a",
            f"--no-kubernetes: {number(without)} MiB" if without else "",
        )
    )
    return out
