"""Watch-fed caches of namespace labels and Secret key names, so admission never waits on the API.

The mutation double-checks the namespace opt-in label and warns about a missing connection Secret,
but an admission request must not block on the network. `KubeCaches` keeps both in memory with
kubernetes-asyncio list+watch loops (lists in pages, re-list on 410 Gone, reconnect with capped
backoff) and answers `webhook.core.model.ClusterView` from plain dicts.

Least privilege: there is no cluster-wide Secret access, and no Secret is asked for but the ones
the profiles name. Each (opted-in namespace, name) pair is its own list and watch with
``fieldSelector=metadata.name=<name>``, the one form of a list or watch that the API server
authorizes with the object's name, so the webhook works under Roles whose rules carry
``resourceNames`` (the examples' and the chart's): it never reads Rook's OSD keys or any other
Secret of the namespace. A 403 makes that one Secret "unknown" (no warnings about it) instead of
an error. Of a Secret only its name and data key names are kept; values are dropped as soon as a
list page or an event is parsed. Every watch holds a connection of the client (HTTP/1.1), so the
client the caches make has no connection limit (`CONNECTIONS`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

from kubernetes_asyncio.client import ApiClient, CoreV1Api

from vsi_common import kube
from vsi_common.logs import fields
from webhook.core.constants import ENABLED_VALUE, LABEL_ENABLED
from webhook.core.model import SecretInfo
from webhook.errors import WebhookError
from webhook.server.watch import LIST_PAGE_SIZE, WATCH_TIMEOUT_SECONDS, Backoff, ListWatch

LOG = logging.getLogger(__name__)

UNKNOWN: Final = "unknown"
"""`KubeCaches.secret` for a Secret it does not watch (namespace not opted in, 403, not synced)."""
CONNECTIONS: Final = None
"""Connection limit of the caches' client: none. One watch holds one connection for its life, and
the caches hold one per opted-in namespace and Secret name, plus the namespaces' own and a few
lists (kubernetes-asyncio's default of 100 would leave the 100th watch waiting for ever)."""
SecretKey = tuple[str, str]
"""(namespace, name) of a Secret the caches follow."""


class KubeUnavailable(WebhookError):
    """No Kubernetes configuration: neither in-cluster nor a kubeconfig (or it does not load)."""


def kubernetes_configured() -> bool:
    """Whether `KubeCaches.connect` has a configuration to use (in a pod, or a kubeconfig)."""
    return kube.kubernetes_configured()


def _secret_info(obj: Mapping[str, Any]) -> SecretInfo:
    """Name and data key names of a Secret object; the values are not looked at."""
    return SecretInfo(
        name=str(obj.get("metadata", {}).get("name", "")),
        keys=frozenset(obj.get("data") or {}),
    )


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    labels = obj.get("metadata", {}).get("labels") or {}
    return MappingProxyType({str(k): str(v) for k, v in labels.items()})


class KubeCaches:
    """Namespace labels and Secret key names, kept fresh by background list+watch tasks.

    Construct with an `ApiClient` (tests point one at the API double) or with `connect`. The
    `ClusterView` methods only read in-memory dicts: no await, no I/O.
    """

    def __init__(
        self,
        client: ApiClient,
        *,
        webhook_namespace: str | None,
        secret_names: frozenset[str],
        backoff: Backoff | None = None,
        watch_timeout_seconds: int = WATCH_TIMEOUT_SECONDS,
        owns_client: bool = False,
        list_page_size: int = LIST_PAGE_SIZE,
    ) -> None:
        self._client = client
        self._host = kube.host_of(client)
        self._core = CoreV1Api(client)
        self._webhook_namespace = webhook_namespace
        self._secret_names = frozenset(secret_names)
        self._lw = ListWatch(
            self._host, backoff or Backoff(), watch_timeout_seconds, list_page_size
        )
        self._owns_client = owns_client
        self._namespaces: dict[str, Mapping[str, str]] = {}
        self._namespaces_synced = False
        self._secrets: dict[SecretKey, SecretInfo | None] = {}
        """Listed Secrets: key names, or None when the Secret does not exist."""
        self._forbidden: set[SecretKey] = set()
        self._secret_tasks: dict[SecretKey, asyncio.Task[None]] = {}
        self._main_task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls,
        *,
        webhook_namespace: str | None,
        secret_names: frozenset[str],
        kubeconfig: str | None = None,
    ) -> KubeCaches:
        """Caches with the pod's service account in a cluster, else ``kubeconfig`` / KUBECONFIG /
        ``~/.kube/config``. Raises `KubeUnavailable` when there is none or it does not load."""
        try:
            client = await kube.load_client(kubeconfig, connections=CONNECTIONS)
        except kube.KubeConfigError as exc:
            raise KubeUnavailable(str(exc)) from None
        return cls(
            client,
            webhook_namespace=webhook_namespace,
            secret_names=secret_names,
            owns_client=True,
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the background list+watch tasks (once)."""
        if self._main_task is None:
            self._main_task = asyncio.create_task(self._run_namespaces(), name="vsi-namespaces")

    def is_synced(self) -> bool:
        """Namespaces listed, and every Secret of every opted-in namespace listed or forbidden."""
        if not self._namespaces_synced:
            return False
        return all(key in self._secrets or key in self._forbidden for key in self._secret_tasks)

    async def close(self) -> None:
        """Stop every task and, when `connect` made it, close the client."""
        tasks = [t for t in (self._main_task, *self._secret_tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._secret_tasks.clear()
        self._main_task = None
        if self._owns_client:
            await self._client.close()

    def set_secret_names(self, names: frozenset[str]) -> None:
        """Follow these Secret names from now on (after a profiles reload): the names that were
        added are listed and watched in every opted-in namespace, the dropped ones forgotten."""
        self._secret_names = frozenset(names)
        self._reconcile_secret_watches()

    # ------------------------------------------------------------------ ClusterView

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """The namespace's labels, or None when not (yet) known."""
        return self._namespaces.get(namespace)

    def secret(self, namespace: str, name: str) -> SecretInfo | Literal["unknown"] | None:
        """Key names of a watched Secret; None when it does not exist; "unknown" if not watched."""
        key = (namespace, name)
        if name not in self._secret_names or key not in self._secrets:
            return UNKNOWN
        return self._secrets[key]

    # ------------------------------------------------------------------ namespaces

    async def _run_namespaces(self) -> None:
        while True:
            try:
                await self._lw.follow(
                    self._list_namespaces,
                    self._core.list_namespace,
                    self._on_namespace,
                    kube.Target("watch", "namespaces"),
                )
            except kube.Forbidden:
                LOG.warning(
                    "cannot list namespaces (403): namespace labels unknown, "
                    "the namespaceSelector is trusted"
                )
                await asyncio.sleep(self._lw.backoff.forbidden)

    async def _list_namespaces(self) -> str:
        listed: dict[str, Mapping[str, str]] = {}

        def page(items: list[Mapping[str, Any]]) -> None:
            for item in items:
                listed[str(item["metadata"]["name"])] = _labels(item)

        version = await self._lw.list_pages(
            self._core.list_namespace, kube.Target("list", "namespaces"), page
        )
        # Swapped in whole: a list that fails half-way leaves the previous one answering.
        self._namespaces = listed
        self._namespaces_synced = True
        self._reconcile_secret_watches()
        return version

    def _on_namespace(self, kind: str, obj: Mapping[str, Any]) -> None:
        name = str(obj.get("metadata", {}).get("name", ""))
        if kind == "DELETED":
            self._namespaces.pop(name, None)
        else:
            self._namespaces[name] = _labels(obj)
        self._reconcile_secret_watches()

    def _enabled_namespaces(self) -> set[str]:
        return {
            ns
            for ns, labels in self._namespaces.items()
            if labels.get(LABEL_ENABLED) == ENABLED_VALUE and ns != self._webhook_namespace
        }

    def _reconcile_secret_watches(self) -> None:
        """One list+watch per (opted-in namespace, Secret name); the others stopped, forgotten."""
        wanted = {(ns, name) for ns in self._enabled_namespaces() for name in self._secret_names}
        for key in sorted(wanted - self._secret_tasks.keys()):
            self._secret_tasks[key] = asyncio.create_task(
                self._run_secret(*key), name=f"vsi-secret-{key[0]}/{key[1]}"
            )
        for key in self._secret_tasks.keys() - wanted:
            self._secret_tasks.pop(key).cancel()
            self._secrets.pop(key, None)
            self._forbidden.discard(key)

    # ------------------------------------------------------------------ secrets

    async def _run_secret(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        target = kube.Target("watch", "secrets", name, namespace)
        selector = f"metadata.name={name}"
        logged_forbidden = False

        async def list_once() -> str:
            return await self._list_secret(namespace, name, selector)

        def open_watch(**kwargs: Any) -> Awaitable[Any]:
            return self._core.list_namespaced_secret(namespace, field_selector=selector, **kwargs)

        def handle(kind: str, obj: Mapping[str, Any]) -> None:
            info = _secret_info(obj)
            if info.name == name and key in self._secrets:
                self._secrets[key] = None if kind == "DELETED" else info

        while True:
            try:
                await self._lw.follow(list_once, open_watch, handle, target)
            except kube.Forbidden:
                self._forbidden.add(key)
                self._secrets.pop(key, None)
                if not logged_forbidden:
                    LOG.warning(
                        "cannot read the Secret (403): it is unknown, no warnings about it",
                        extra=fields(namespace=namespace, secret=name),
                    )
                    logged_forbidden = True
                await asyncio.sleep(self._lw.backoff.forbidden)

    async def _list_secret(self, namespace: str, name: str, selector: str) -> str:
        """List the one Secret ``name`` (a list, not a get: its resourceVersion starts the
        watch)."""
        key = (namespace, name)
        found: list[SecretInfo] = []

        def page(items: list[Mapping[str, Any]]) -> None:
            # Only the key names, and only of the Secret asked for.
            found.extend(i for i in map(_secret_info, items) if i.name == name)

        def call(**options: Any) -> Awaitable[Any]:
            return self._core.list_namespaced_secret(namespace, field_selector=selector, **options)

        target = kube.Target("list", "secrets", name, namespace)
        version = await self._lw.list_pages(call, target, page)
        self._secrets[key] = found[0] if found else None
        if key in self._forbidden:
            LOG.info("the Secret is readable again", extra=fields(namespace=namespace, secret=name))
            self._forbidden.discard(key)
        return version
