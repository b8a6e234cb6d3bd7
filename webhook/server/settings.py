"""The `vsi-webhook serve` settings: a frozen dataclass filled from flags > environment > defaults.

Read once at start-up by `webhook.commands.serve` (never at import time) and handed to
`webhook.server.app.create_app`, so the server, the tests and the benchmark build the same
application from the same values. Parsing is pure: `from_sources` takes the parsed flags and an
environment mapping and raises `UsageError` naming the flag (and its variable) when a value is not
acceptable.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from vsi_common.logs import LOG_FORMATS, LogFormat
from vsi_common.values import parse_bool
from webhook.errors import UsageError

ENV_PREFIX = "VSI_WEBHOOK_"
"""Every serve flag ``--some-flag`` can also come from ``VSI_WEBHOOK_SOME_FLAG``."""
POD_NAMESPACE_ENV = "POD_NAMESPACE"
"""The webhook's own namespace (downward API); objects there are never mutated."""
KUBECONFIG_ENV = "KUBECONFIG"
"""A kubeconfig to use outside a cluster; the caches' own lookup also honours it."""

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a webhook in a pod must listen on the pod IP
"""Default listen address: every IPv4 interface (the pod IP in a cluster)."""
DEV_HOST = "127.0.0.1"
"""Where ``--dev`` listens unless ``--host`` says otherwise: this machine only."""
DEFAULT_PORT = 8443
"""HTTPS port of ``POST /mutate`` and the health endpoints."""
DEFAULT_METRICS_PORT = 9090
"""Plain-HTTP port of ``GET /metrics``; 0 serves metrics on the HTTPS port only."""
DEFAULT_SERVICE = "vault-storage-injector"
"""Service name the ``--dev`` certificate is made for (``<service>.<namespace>.svc``)."""
DEFAULT_DEV_NAMESPACE = "vault-storage-injector"
"""Namespace the ``--dev`` certificate is made for when ``POD_NAMESPACE`` is unset."""
DEFAULT_IDLE_TIMEOUT = 60.0
"""Seconds a connection may sit idle, or take to send its request headers, before it is closed."""
DEFAULT_READ_TIMEOUT = 10.0
"""Seconds a request body may take to arrive before the server answers 408 and closes."""
DEFAULT_SHUTDOWN_TIMEOUT = 8.0
"""Seconds the connections open at SIGTERM get to be answered (the process exits within 10 s)."""
DEFAULT_RELOAD_INTERVAL = 2.0
"""Seconds between two checks of the certificate and profile files."""
DEFAULT_RELOAD_TIMEOUT = 5.0
"""Seconds a check of the certificate or profiles files may take before it counts as failed
(reading and loading a few KiB takes milliseconds)."""
DEFAULT_CERT_FAILURES_UNREADY = 3
"""Consecutive failed certificate checks after which ``/readyz`` turns unready."""
DEFAULT_MAX_CONNECTIONS = 512
"""Concurrent HTTPS connections: 512 x at most 100 KiB each stays far inside the Deployment's
256 Mi limit (docs/server.md, "Connection budget", has the measured figures)."""
DEFAULT_TLS_HANDSHAKE_TIMEOUT = 5.0
"""Seconds a new connection may take to complete its TLS handshake before it is closed."""
MAX_BODY_BYTES = 3 * 1024 * 1024
"""Largest accepted request body: the kube-apiserver's own limit for an admission request."""
MAX_BODY_BYTES_IN_FLIGHT = 16 * 1024 * 1024
"""Bytes of request bodies read at once (five of the largest, or two thousand typical reviews)."""


@dataclass(frozen=True)
class ServeSettings:
    """Everything `webhook.server.app.create_app` and `webhook.server.running` need; no I/O."""

    tls_cert: Path | None = None
    """PEM chain (``tls.crt`` of a ``kubernetes.io/tls`` Secret); required unless --dev."""
    tls_key: Path | None = None
    """PEM private key matching ``tls_cert``."""
    dev: bool = False
    """Make throw-away certificates in a temporary directory and listen on 127.0.0.1."""
    host: str = ALL_INTERFACES
    """Address both listeners bind to."""
    port: int = DEFAULT_PORT
    """HTTPS port; 0 picks a free one (the "listening" log line says which)."""
    metrics_port: int = DEFAULT_METRICS_PORT
    """Plain-HTTP metrics port; 0 disables it (metrics stay on the HTTPS port)."""
    config_path: Path | None = None
    """Profiles file (reloaded on change); None uses the built-in profiles."""
    use_kubernetes: bool = True
    """Use the API caches (namespace labels, Secret warnings) when Kubernetes is configured."""
    kubeconfig: str | None = None
    """Kubeconfig for the caches outside a cluster; None uses in-cluster config or the default."""
    log_format: LogFormat = "json"
    """How log lines are written to stderr."""
    webhook_namespace: str | None = None
    """The webhook's own namespace (``POD_NAMESPACE``); never mutated. None when unknown."""
    service: str = DEFAULT_SERVICE
    """Service name the ``--dev`` certificate covers."""
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    """Idle keep-alive and request-header timeout, seconds."""
    read_timeout: float = DEFAULT_READ_TIMEOUT
    """Request-body timeout, seconds."""
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    """Grace period on SIGTERM for the connections already open to be answered, seconds."""
    reload_interval: float = DEFAULT_RELOAD_INTERVAL
    """Seconds between checks of the certificate and profile files."""
    reload_timeout: float = DEFAULT_RELOAD_TIMEOUT
    """Seconds one check of the certificate or profiles files may take."""
    cert_failures_unready: int = DEFAULT_CERT_FAILURES_UNREADY
    """Consecutive failed certificate checks that make ``/readyz`` unready."""
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    """Concurrent HTTPS connections; at the cap a silent one makes room or the new one is closed."""
    tls_handshake_timeout: float = DEFAULT_TLS_HANDSHAKE_TIMEOUT
    """TLS handshake timeout, seconds."""
    max_body_bytes: int = MAX_BODY_BYTES
    """Largest request body accepted; larger gets 413."""
    max_body_bytes_in_flight: int = MAX_BODY_BYTES_IN_FLIGHT
    """Bytes of request bodies still arriving at once; beyond, a body waits for room (503 when
    none comes within the read timeout)."""

    @property
    def dev_namespace(self) -> str:
        """The namespace in the ``--dev`` certificate's names."""
        return self.webhook_namespace or DEFAULT_DEV_NAMESPACE


def env_name(flag: str) -> str:
    """``--metrics-port`` -> ``VSI_WEBHOOK_METRICS_PORT``."""
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


_N = TypeVar("_N", int, float)
PORT_EXPECTED: Final = "a port number (0-65535)"
COUNT_EXPECTED: Final = "a whole number of at least 1"
SECONDS_EXPECTED: Final = "a positive number of seconds"


def _pick(flag: str, cli: object, env: Mapping[str, str]) -> tuple[str | None, str]:
    """The raw value for ``flag`` (CLI first, then its variable) and where it came from."""
    if cli is not None:
        return str(cli), flag
    name = env_name(flag)
    value = env.get(name)
    if value is None or not value.strip():
        return None, flag
    return value.strip(), f"{flag} (${name})"


def _number(
    flag: str,
    cli: object,
    env: Mapping[str, str],
    default: _N,
    convert: Callable[[str], _N],
    valid: Callable[[_N], bool],
    expected: str,
) -> _N:
    """``flag``'s value converted and checked, else `UsageError` naming ``expected``."""
    raw, source = _pick(flag, cli, env)
    if raw is None:
        return default
    try:
        value = convert(raw)
    except ValueError:
        raise UsageError(f"{source}: {raw!r} is not {expected}") from None
    if not valid(value):
        raise UsageError(f"{source}: {raw!r} is not {expected}")
    return value


def _port(flag: str, cli: object, env: Mapping[str, str], default: int) -> int:
    return _number(flag, cli, env, default, int, lambda v: 0 <= v <= 65535, PORT_EXPECTED)


def _seconds(flag: str, cli: object, env: Mapping[str, str], default: float) -> float:
    return _number(
        flag, cli, env, default, float, lambda v: math.isfinite(v) and v > 0, SECONDS_EXPECTED
    )


def _count(flag: str, cli: object, env: Mapping[str, str], default: int) -> int:
    return _number(flag, cli, env, default, int, lambda v: v >= 1, COUNT_EXPECTED)


def _flag(flag: str, cli: bool, env: Mapping[str, str]) -> bool:
    if cli:
        return True
    name = env_name(flag)
    try:
        return parse_bool(env.get(name, ""))
    except ValueError as exc:
        raise UsageError(f"{flag} (${name}): {exc}") from None


def _path(flag: str, cli: object, env: Mapping[str, str]) -> Path | None:
    raw, _ = _pick(flag, cli, env)
    return Path(raw) if raw is not None else None


def from_sources(args: argparse.Namespace, env: Mapping[str, str]) -> ServeSettings:
    """Build settings from parsed ``serve`` flags (an argparse namespace) and the environment.

    Flags win over ``VSI_WEBHOOK_*`` variables, which win over defaults. Raises `UsageError` with
    the flag name for a value that is not acceptable, before anything is opened or bound.
    """

    def get(name: str) -> object:
        return getattr(args, name, None)

    dev = _flag("--dev", bool(get("dev")), env)
    tls_cert = _path("--tls-cert", get("tls_cert"), env)
    tls_key = _path("--tls-key", get("tls_key"), env)
    if dev and (tls_cert is not None or tls_key is not None):
        raise UsageError("--dev makes its own certificates: drop --tls-cert/--tls-key")
    if not dev and (tls_cert is None or tls_key is None):
        raise UsageError("--tls-cert and --tls-key are both required (or --dev to try it locally)")
    host_raw, _ = _pick("--host", get("host"), env)
    host = host_raw if host_raw is not None else (DEV_HOST if dev else ALL_INTERFACES)
    log_raw, log_source = _pick("--log-format", get("log_format"), env)
    log_format = (log_raw or "json").lower()
    if log_format not in LOG_FORMATS:
        raise UsageError(f"{log_source}: {log_raw!r} is not one of {', '.join(LOG_FORMATS)}")
    namespace = env.get(POD_NAMESPACE_ENV, "").strip() or None
    kubeconfig = env.get(KUBECONFIG_ENV, "").strip() or None
    return ServeSettings(
        tls_cert=tls_cert,
        tls_key=tls_key,
        dev=dev,
        host=host,
        port=_port("--port", get("port"), env, DEFAULT_PORT),
        metrics_port=_port("--metrics-port", get("metrics_port"), env, DEFAULT_METRICS_PORT),
        config_path=_path("--config", get("config"), env),
        use_kubernetes=not _flag("--no-kubernetes", bool(get("no_kubernetes")), env),
        kubeconfig=kubeconfig,
        log_format="text" if log_format == "text" else "json",
        webhook_namespace=namespace,
        service=env.get(env_name("--service"), "").strip() or DEFAULT_SERVICE,
        idle_timeout=_seconds("--idle-timeout", get("idle_timeout"), env, DEFAULT_IDLE_TIMEOUT),
        read_timeout=_seconds("--read-timeout", get("read_timeout"), env, DEFAULT_READ_TIMEOUT),
        shutdown_timeout=_seconds(
            "--shutdown-timeout", get("shutdown_timeout"), env, DEFAULT_SHUTDOWN_TIMEOUT
        ),
        reload_interval=_seconds(
            "--reload-interval", get("reload_interval"), env, DEFAULT_RELOAD_INTERVAL
        ),
        max_connections=_count(
            "--max-connections", get("max_connections"), env, DEFAULT_MAX_CONNECTIONS
        ),
        tls_handshake_timeout=_seconds(
            "--tls-handshake-timeout",
            get("tls_handshake_timeout"),
            env,
            DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        ),
    )
