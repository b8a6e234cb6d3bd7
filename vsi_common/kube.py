"""Kubernetes API access for every command: one way to load a client, one raw JSON call, one table.

The webhook's caches, ``vsi-certs bootstrap`` and the injector's PV look-ups all talk to the API
server through kubernetes-asyncio, and all want the same things: the pod's service account in a
cluster and a kubeconfig elsewhere; objects as raw JSON (the client's models drop fields they do
not know, and deserialising them costs time); the body read from the stream, so that a Secret's
values are not kept in a response buffer; and an HTTP status turned into an error in exactly one
place (`status_error`), as a one-line message that names the verb and the object, never its content.
Each package maps `KubeError` to its own errors and exit codes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import aiohttp
    from kubernetes_asyncio.client import ApiClient

# kubernetes_asyncio takes about 2 s to import: it is imported where a client is made, so commands
# that never talk to the API (vsi-certs generate, most injector runs) do not pay for it.

IN_CLUSTER_HOST_ENV: Final = "KUBERNETES_SERVICE_HOST"
"""Set by the kubelet in every pod; its presence means "use the pod's service account"."""
KUBECONFIG_ENV: Final = "KUBECONFIG"
"""Kubeconfig file(s) outside a cluster, separated by the OS path separator."""
REQUEST_TIMEOUT_SECONDS: Final = 30
"""Default limit of one request: an unreachable or hanging API server is an error, not a hang."""
MAX_MESSAGE: Final = 200
"""Characters of an API server ``Status.message`` kept in an error line."""


class KubeError(Exception):
    """A failed API call or configuration, as one line without object content."""


class KubeConfigError(KubeError):
    """No usable configuration: not in a pod and no kubeconfig, or the kubeconfig does not load.

    ``option`` names what to fix (``--kubeconfig``, ``--context``) when the caller passed it.
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class Unreachable(KubeError):
    """The API server could not be reached or did not answer in time."""


class ApiStatusError(KubeError):
    """The API server answered with a failure status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Unauthorized(ApiStatusError):
    """401: the credentials were rejected."""


class Forbidden(ApiStatusError):
    """403: RBAC does not allow the verb on the object."""


class NotFound(ApiStatusError):
    """404: the object (or its resource type) does not exist."""


class Conflict(ApiStatusError):
    """409: another writer changed the object since it was read, or created it first."""


class Gone(ApiStatusError):
    """410: the resourceVersion of a watch or continue token is too old; list again."""


_STATUS_ERRORS: Final[Mapping[int, type[ApiStatusError]]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
}


@dataclass(frozen=True)
class Target:
    """What a call does, for messages: ``get secrets/foo in namespace bar``."""

    verb: str
    """The Kubernetes verb: get, list, watch, create, update, patch."""
    resource: str
    """The plural resource, e.g. ``secrets`` or ``mutatingwebhookconfigurations``."""
    name: str = ""
    """The object's name; empty for collections."""
    namespace: str | None = None
    """The namespace; None for cluster-scoped resources and cluster-wide lists."""

    def describe(self) -> str:
        """``secrets/foo in namespace bar`` (``secrets in namespace bar`` for a collection)."""
        what = f"{self.resource}/{self.name}" if self.name else self.resource
        return what + (f" in namespace {self.namespace}" if self.namespace else "")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text, or its type name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0][:MAX_MESSAGE] if text else type(exc).__name__


def default_kubeconfig() -> str | None:
    """``KUBECONFIG`` when one of its files exists, else ``~/.kube/config`` if it exists."""
    env = os.environ.get(KUBECONFIG_ENV, "")
    if any(Path(p).is_file() for p in env.split(os.pathsep) if p):
        return env
    home = Path.home() / ".kube" / "config"
    return str(home) if home.is_file() else None


def in_cluster() -> bool:
    """Whether this process runs in a pod (the kubelet set ``KUBERNETES_SERVICE_HOST``)."""
    return bool(os.environ.get(IN_CLUSTER_HOST_ENV))


def kubernetes_configured() -> bool:
    """Whether `load_client` has a configuration to use without explicit options."""
    return in_cluster() or default_kubeconfig() is not None


DEFAULT_CONNECTIONS: Final = 100
"""Connections a client opens to the API server at most (kubernetes-asyncio's default)."""


async def load_client(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    connections: int | None = DEFAULT_CONNECTIONS,
) -> ApiClient:
    """An ApiClient: ``kubeconfig``/``context`` when given, else the pod's service account in a
    pod, else ``KUBECONFIG`` or ``~/.kube/config``, with at most ``connections`` connections
    (None: no limit; a watch holds one). Raises `KubeConfigError` (one line)."""
    from kubernetes_asyncio.client import ApiClient, Configuration
    from kubernetes_asyncio.config import ConfigException, load_incluster_config, load_kube_config

    configuration = Configuration()
    # None is kubernetes-asyncio's "no limit" (its stub types the attribute int).
    configuration.connection_pool_maxsize = connections  # type: ignore[assignment]
    if kubeconfig is None and context is None and in_cluster():
        try:
            load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError) as exc:
            raise KubeConfigError(f"in-cluster configuration: {first_line(exc)}") from None
        return ApiClient(configuration)
    path = _kubeconfig_path(kubeconfig)
    if path is None:
        raise KubeConfigError(
            "no Kubernetes configuration: not running in a pod and no kubeconfig "
            f"(pass --kubeconfig or set {KUBECONFIG_ENV})"
        )
    try:
        await load_kube_config(
            config_file=path,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except Exception as exc:  # the loader raises many types for a bad file; report one line
        option = "--context" if context and "context" in str(exc).lower() else "--kubeconfig"
        raise KubeConfigError(f"kubeconfig {path}: {first_line(exc)}", option) from None
    return ApiClient(configuration)


def _kubeconfig_path(kubeconfig: str | None) -> str | None:
    if kubeconfig is None:
        return default_kubeconfig()
    if not Path(kubeconfig).is_file():
        raise KubeConfigError(f"{kubeconfig} is not a readable file", "--kubeconfig")
    return kubeconfig


def host_of(client: ApiClient) -> str:
    """The API server URL a client talks to, for messages."""
    return str(client.configuration.host)


def status_error(status: int, body: Mapping[str, Any], target: Target, host: str) -> KubeError:
    """The error for a failure status: the one table every caller shares."""
    if status == 401:
        return Unauthorized(f"the Kubernetes API at {host} rejected the credentials (401)", 401)
    if status == 403:
        return Forbidden(f"forbidden: cannot {target.verb} {target.describe()}", 403)
    if status == 404:
        return NotFound(f"{target.describe()} not found", 404)
    message = str(body.get("message") or body.get("reason") or "").strip().splitlines()
    detail = f": {message[0][:MAX_MESSAGE]}" if message else ""
    kind = _STATUS_ERRORS.get(status, ApiStatusError)
    return kind(f"{target.verb} {target.describe()} failed with HTTP {status}{detail}", status)


def _decode(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def _send(request: Awaitable[Any], host: str) -> aiohttp.ClientResponse:
    import aiohttp

    try:
        response: aiohttp.ClientResponse = await request
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise Unreachable(f"cannot reach the Kubernetes API at {host}: {first_line(exc)}") from None
    return response


async def call_json(
    request: Awaitable[Any], target: Target, *, host: str, missing_ok: bool = False
) -> dict[str, Any] | None:
    """Await a kubernetes-asyncio call made with ``_preload_content=False``; its JSON body.

    Returns None for a 404 when ``missing_ok``; raises the `status_error` of any other failure,
    and `Unreachable` when the server cannot be reached or the body does not arrive.
    """
    import aiohttp

    response = await _send(request, host)
    try:
        # content.read(), not response.read(): the latter keeps the body (Secret values) around.
        raw = await response.content.read()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise Unreachable(f"{target.verb} {target.describe()}: {first_line(exc)}") from None
    finally:
        response.release()
    status = int(response.status)
    body = _decode(raw)
    if 200 <= status < 300:
        return body
    if status == 404 and missing_ok:
        return None
    raise status_error(status, body, target, host)


async def open_stream(request: Awaitable[Any], target: Target, *, host: str) -> Any:
    """Await a streaming call (a watch) made with ``_preload_content=False``; the open response.

    A failure status raises its `status_error` (after reading the Status body); the caller reads
    the stream and closes the response.
    """
    response = await _send(request, host)
    status = int(response.status)
    if status == 200:
        return response
    try:
        body = _decode(await response.content.read())
    finally:
        response.close()
    raise status_error(status, body, target, host)
