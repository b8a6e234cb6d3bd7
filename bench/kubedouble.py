"""``python -m bench.kubedouble``: the Kubernetes API double with a large cluster in it.

The cache benchmark lists from it over real HTTP; it runs in a process of its own so that its
work (building the lists, serializing 50 000 Secrets) is not timed or counted as the caches'.
Prints ``URL <url>`` once it serves; serves until SIGTERM or SIGINT. ``GET /_double/stats`` says
what it was asked (requests per verb and resource) and how many watches are open, so the
benchmark can report what the caches cost the API server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, Final

from aiohttp import web

from doubles.kubeapi import KubeApi

ENABLED_LABEL: Final = "vault-storage-injector.io/enabled"
SECRET_NAME: Final = "px-vault"
"""The connection Secret the built-in Portworx profile names: one in each opted-in namespace."""


def cluster(namespaces: int, enabled: int, secrets: int) -> list[dict[str, Any]]:
    """``namespaces`` namespaces (the first ``enabled`` opted in) and ``secrets`` Secrets spread
    over the opted-in ones, each with two data values (about 1 KB), like a token Secret."""
    objs: list[dict[str, Any]] = []
    for n in range(namespaces):
        name = f"ns-{n:05d}"
        labels = {"kubernetes.io/metadata.name": name, "team": f"team-{n % 50}"}
        if n < enabled:
            labels[ENABLED_LABEL] = "true"
        objs.append({"kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    token = base64.b64encode(os.urandom(512)).decode()
    for s in range(secrets):
        namespace = f"ns-{s % enabled:05d}"
        name = SECRET_NAME if s < enabled else f"app-{s:05d}"
        data = {
            "VAULT_ADDR": base64.b64encode(b"https://vault.example:8200").decode(),
            "VAULT_TOKEN": base64.b64encode(token.encode()).decode(),
        }
        objs.append(
            {
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": name, "namespace": namespace},
                "data": data,
            }
        )
    return objs


STATS_PATH: Final = "/_double/stats"
"""Where the double says what it was asked and how many watches it holds."""


def stats(api: KubeApi) -> dict[str, Any]:
    """``requests``: count per ``"<verb> <resource>"``; ``watches``: streams open now."""
    counts: dict[str, int] = {}
    for seen in api.requests:
        key = f"{seen.verb} {seen.resource}"
        counts[key] = counts.get(key, 0) + 1
    return {"requests": counts, "watches": sum(api.watching.values())}


async def serve(namespaces: int, enabled: int, secrets: int) -> None:
    api = KubeApi()
    api.seed(cluster(namespaces, enabled, secrets))
    app = api.app()

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(stats(api))

    app.router.add_get(STATS_PATH, answer)
    runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(f"URL http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kubedouble", description=__doc__)
    parser.add_argument("--namespaces", type=int, default=10_000)
    parser.add_argument("--enabled", type=int, default=100)
    parser.add_argument("--secrets", type=int, default=50_000)
    args = parser.parse_args(argv)
    if not 0 < args.enabled <= args.namespaces or args.secrets < args.enabled:
        print("need 0 < --enabled <= --namespaces and --secrets >= --enabled", file=sys.stderr)
        return 2
    asyncio.run(serve(args.namespaces, args.enabled, args.secrets))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
