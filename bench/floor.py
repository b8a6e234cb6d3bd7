"""The floor: the least an aiohttp HTTPS admission webhook can do per review.

It reads the body, parses the AdmissionReview with orjson, and answers with a fixed JSON Patch for
the request's uid; no validation, no mutation logic, no logging, no metrics. TLS uses the webhook's
own server context (`webhook.server.tlsreload.new_server_context`) so both servers negotiate the
same protocol and ciphers. The webhook's throughput is reported as a ratio of this one's.

Run: ``python -m bench.floor --port P --tls-cert F --tls-key F [--host 127.0.0.1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import signal
import ssl
from collections.abc import Sequence
from typing import Final

import orjson
from aiohttp import web

FIXED_PATCH: Final = base64.b64encode(
    orjson.dumps(
        [
            {
                "op": "add",
                "path": "/metadata/annotations",
                "value": {"vault-storage-injector.io/status": "injected"},
            }
        ]
    )
).decode("ascii")
"""The same patch for every review: one annotation."""


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The webhook's TLS server settings (its own factory when importable) with ``cert``/``key``."""
    try:
        from webhook.server.tlsreload import new_server_context

        context = new_server_context()
    except ImportError:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(cert, key)
    return context


async def mutate(request: web.Request) -> web.Response:
    """``POST /mutate``: parse the review, answer the fixed patch for its uid."""
    review = orjson.loads(await request.read())
    body = orjson.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {
                "uid": review["request"]["uid"],
                "allowed": True,
                "patchType": "JSONPatch",
                "patch": FIXED_PATCH,
            },
        }
    )
    return web.Response(body=body, content_type="application/json")


async def readyz(request: web.Request) -> web.Response:
    """``GET /readyz``: always ready."""
    return web.Response(text="ok\n")


def create_app() -> web.Application:
    """The floor application: ``POST /mutate`` and ``GET /readyz``."""
    app = web.Application(client_max_size=3 * 1024 * 1024)
    app.router.add_post("/mutate", mutate)
    app.router.add_get("/readyz", readyz)
    return app


async def serve(host: str, port: int, context: ssl.SSLContext) -> None:
    """Serve until SIGTERM or SIGINT."""
    runner = web.AppRunner(create_app(), access_log=None, keepalive_timeout=60.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=context)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-cert", required=True)
    parser.add_argument("--tls-key", required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, server_context(args.tls_cert, args.tls_key)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
