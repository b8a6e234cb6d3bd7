"""`vsi-webhook serve`: flags and environment become `ServeSettings`, then the server runs.

Logging is configured once here; `webhook.server.running.serve` does the rest until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from vsi_common.logs import LOG_FORMATS, configure
from webhook.server import settings as settings_module
from webhook.server.running import serve
from webhook.server.settings import DEFAULT_MAX_CONNECTIONS, DEFAULT_METRICS_PORT, DEFAULT_PORT


def add_parser(sub: Any) -> None:
    """Register ``serve`` on the ``vsi-webhook`` subcommands."""
    env = settings_module.env_name
    parser = sub.add_parser(
        "serve",
        help="serve the admission webhook over HTTPS",
        description=(
            "Serve POST /mutate (AdmissionReview admission.k8s.io/v1), /healthz, /readyz and "
            f"/metrics. Every flag can also be set with its variable, e.g. {env('--port')}."
        ),
    )
    parser.add_argument(
        "--host", help="address to listen on (default 0.0.0.0; 127.0.0.1 with --dev)"
    )
    parser.add_argument("--port", help=f"HTTPS port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--tls-cert", metavar="FILE", help="PEM certificate chain (tls.crt)")
    parser.add_argument("--tls-key", metavar="FILE", help="PEM private key (tls.key)")
    parser.add_argument(
        "--dev",
        action="store_true",
        help="make throw-away certificates and listen on 127.0.0.1 (try it locally)",
    )
    parser.add_argument(
        "--metrics-port",
        metavar="PORT",
        help=f"plain-HTTP /metrics port (default {DEFAULT_METRICS_PORT}; 0: HTTPS port only)",
    )
    parser.add_argument("--config", metavar="FILE", help="profiles file, reloaded on change")
    parser.add_argument(
        "--no-kubernetes",
        action="store_true",
        help="no API caches: trust the namespaceSelector, no Secret warnings",
    )
    parser.add_argument("--log-format", choices=LOG_FORMATS, help="log lines (default json)")
    parser.add_argument("--idle-timeout", metavar="SECONDS", help="idle and header timeout")
    parser.add_argument("--read-timeout", metavar="SECONDS", help="request body timeout")
    parser.add_argument("--shutdown-timeout", metavar="SECONDS", help="grace period on SIGTERM")
    parser.add_argument("--reload-interval", metavar="SECONDS", help="certificate/profile checks")
    parser.add_argument(
        "--max-connections",
        metavar="N",
        help=f"concurrent HTTPS connections (default {DEFAULT_MAX_CONNECTIONS})",
    )
    parser.add_argument(
        "--tls-handshake-timeout", metavar="SECONDS", help="TLS handshake timeout (default 5)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``serve``: the exit code; `WebhookError` goes to `webhook.cli.main`."""
    settings = settings_module.from_sources(args, os.environ)
    configure(settings.log_format)
    asyncio.run(serve(settings))
    return 0
