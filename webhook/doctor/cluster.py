"""The doctor's Kubernetes calls: get and list only, and a TokenRequest for ``--vault``.

Every call goes through `vsi_common.kube` (raw JSON, one status table). A refused or failed read
becomes a `webhook.doctor.state.Failed` that the checks report (a 403 names the missing RBAC
rule), so one missing permission costs one check, not the whole report; only an API server that
cannot be reached or rejects the credentials stops the doctor (`DoctorAbort`, exit code 1). Lists
follow ``continue`` tokens, and start again from the first page (at most `LIST_ATTEMPTS` times)
when a token has expired (410 Gone: etcd compacted its snapshot away). Secrets are read one by
one, by the names the profiles give, never listed: the doctor sees no other Secret's values.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from vsi_common import kube
from webhook.doctor.state import (
    KINDS,
    STORAGE_CLUSTER,
    ClusterState,
    Failed,
    Got,
    InstallState,
    Json,
    Kind,
    Locations,
    NamespaceInfo,
    SecretData,
    Unlisted,
    Workload,
)
from webhook.errors import WebhookError

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

PAGE: Final = 500
"""Objects asked for per list request (``limit``); the rest come with ``continue``."""
LIST_ATTEMPTS: Final = 3
"""How many times a list is started from its first page when a ``continue`` token expires."""
TIMEOUT: Final = kube.REQUEST_TIMEOUT_SECONDS
"""Limit of one request."""
TOKEN_SECONDS: Final = 600
"""Lifetime asked of a TokenRequest (the API server's minimum): one check needs a minute."""
SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"
"""The label by which an EndpointSlice names its Service."""


class DoctorAbort(WebhookError):
    """The API server cannot be reached or rejects the credentials: nothing can be checked."""


class Cluster:
    """The doctor's reads over one `ApiClient`."""

    def __init__(self, client: ApiClient) -> None:
        from kubernetes_asyncio.client import (
            AdmissionregistrationV1Api,
            AppsV1Api,
            CoreV1Api,
            CustomObjectsApi,
            DiscoveryV1Api,
        )

        self._host = kube.host_of(client)
        self._core = CoreV1Api(client)
        self._apps = AppsV1Api(client)
        self._custom = CustomObjectsApi(client)
        self._discovery = DiscoveryV1Api(client)
        self._admission = AdmissionregistrationV1Api(client)

    async def _json(
        self, target: kube.Target, request: Awaitable[Any], *, gone_raises: bool = False
    ) -> Got:
        """The answer's JSON, None for 404, or `Failed`; `kube.Gone` raised when asked for."""
        try:
            return await kube.call_json(request, target, host=self._host, missing_ok=True)
        except kube.Gone as exc:
            if gone_raises:
                raise
            return _failed(target, exc)
        except (kube.Unreachable, kube.Unauthorized) as exc:
            raise DoctorAbort(str(exc)) from None
        except kube.KubeError as exc:
            return _failed(target, exc)

    async def _list(
        self, target: kube.Target, call: Callable[..., Awaitable[Any]], **kwargs: Any
    ) -> tuple[Json, ...] | Failed | None:
        """Every item of a collection (None: the resource type does not exist)."""
        expired = ""
        for _ in range(LIST_ATTEMPTS):
            try:
                return await self._pages(target, call, kwargs)
            except kube.Gone as exc:
                expired = str(exc)
        return Failed(target.describe(), f"{expired} (listed {LIST_ATTEMPTS} times)")

    async def _pages(
        self, target: kube.Target, call: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]
    ) -> tuple[Json, ...] | Failed | None:
        """One pass over the pages of a list; `kube.Gone` when a continue token expired."""
        items: list[Json] = []
        token = ""
        while True:
            request = call(
                **kwargs,
                limit=PAGE,
                _continue=token or None,
                _preload_content=False,
                _request_timeout=TIMEOUT,
            )
            page = await self._json(target, request, gone_raises=True)
            if not isinstance(page, dict):
                return page
            items += [i for i in page.get("items") or [] if isinstance(i, dict)]
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return tuple(items)

    async def get_secret(self, namespace: str, name: str) -> SecretData | Failed | None:
        """A Secret, decoded (keys that are not base64 are dropped)."""
        target = kube.Target("get", "secrets", name, namespace)
        request = self._core.read_namespaced_secret(
            name, namespace, _preload_content=False, _request_timeout=TIMEOUT
        )
        found = await self._json(target, request)
        if not isinstance(found, dict):
            return found
        data: dict[str, bytes] = {}
        for key, value in (found.get("data") or {}).items():
            try:
                data[str(key)] = base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                continue
        return SecretData(name, data)

    async def token(
        self, namespace: str, service_account: str, audiences: Sequence[str]
    ) -> str | Failed | None:
        """A short-lived token of the service account (TokenRequest; None: no such service
        account); never logged or shown."""
        target = kube.Target("create", "serviceaccounts/token", service_account, namespace)
        spec: Json = {"expirationSeconds": TOKEN_SECONDS}
        if audiences:
            spec["audiences"] = list(audiences)
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        request = self._core.create_namespaced_service_account_token(
            service_account,
            namespace,
            body,  # type: ignore[arg-type]  # raw JSON on purpose
            _preload_content=False,
            _request_timeout=TIMEOUT,
        )
        found = await self._json(target, request)
        if not isinstance(found, dict):
            return found
        token = (found.get("status") or {}).get("token")
        if not isinstance(token, str) or not token:
            return Failed(target.describe(), "the TokenRequest answer holds no token")
        return token

    async def install(self, loc: Locations, read_config_map: bool) -> InstallState:
        """The webhook's own objects, read concurrently."""
        ns = loc.namespace
        webhook_config = self._json(
            kube.Target("get", "mutatingwebhookconfigurations", loc.webhook_config),
            self._admission.read_mutating_webhook_configuration(
                loc.webhook_config, _preload_content=False, _request_timeout=TIMEOUT
            ),
        )
        secret = self._json(
            kube.Target("get", "secrets", loc.secret, ns),
            self._core.read_namespaced_secret(
                loc.secret, ns, _preload_content=False, _request_timeout=TIMEOUT
            ),
        )
        service = self._json(
            kube.Target("get", "services", loc.service, ns),
            self._core.read_namespaced_service(
                loc.service, ns, _preload_content=False, _request_timeout=TIMEOUT
            ),
        )
        slices = self._list(
            kube.Target("list", "endpointslices", namespace=ns),
            self._discovery.list_namespaced_endpoint_slice,
            namespace=ns,
            label_selector=f"{SERVICE_NAME_LABEL}={loc.service}",
        )
        config_map = self._config_map(loc) if read_config_map else _none()
        got = await asyncio.gather(webhook_config, secret, service, slices, config_map)
        return InstallState(
            webhook_config=got[0],
            tls_secret=got[1],
            service=got[2],
            endpoint_slices=got[3] or (),
            config_map=got[4],
        )

    async def _config_map(self, loc: Locations) -> Got:
        return await self._json(
            kube.Target("get", "configmaps", loc.config_map, loc.namespace),
            self._core.read_namespaced_config_map(
                loc.config_map, loc.namespace, _preload_content=False, _request_timeout=TIMEOUT
            ),
        )

    async def namespaces(self, requested: Sequence[str]) -> tuple[NamespaceInfo, ...] | Failed:
        """The ``-n`` namespaces (each read), or every namespace (one list)."""
        if not requested:
            listed = await self._list(kube.Target("list", "namespaces"), self._core.list_namespace)
            if not isinstance(listed, tuple):
                return listed or ()
            return tuple(_namespace(obj, requested=False) for obj in listed)
        found: list[NamespaceInfo] = []
        for name in requested:
            got = await self._json(
                kube.Target("get", "namespaces", name),
                self._core.read_namespace(name, _preload_content=False, _request_timeout=TIMEOUT),
            )
            if isinstance(got, Failed):
                return got
            found.append(
                NamespaceInfo(name, None, True) if got is None else _namespace(got, requested=True)
            )
        return tuple(found)

    def _lister(
        self, kind: Kind, namespace: str | None
    ) -> tuple[Callable[..., Any], dict[str, Any]]:
        """The list call of ``kind`` (cluster-wide when ``namespace`` is None) and its arguments."""
        if kind == STORAGE_CLUSTER:
            group = {"group": kind.group, "version": kind.version, "plural": kind.plural}
            if namespace is None:
                return self._custom.list_cluster_custom_object, group
            return self._custom.list_namespaced_custom_object, {**group, "namespace": namespace}
        api = self._apps if kind.group == "apps" else self._core
        plural = "daemon_set" if kind.plural == "daemonsets" else "pod"
        if namespace is None:
            return getattr(api, f"list_{plural}_for_all_namespaces"), {}
        return getattr(api, f"list_namespaced_{plural}"), {"namespace": namespace}

    async def workloads(
        self, namespaces: Sequence[str] | None
    ) -> tuple[tuple[Workload, ...], tuple[Unlisted, ...]]:
        """Every object of `KINDS`: cluster-wide (``namespaces`` None) or in each namespace.

        A kind whose resource type does not exist (no Portworx CRD) simply has no objects.
        """
        scopes: Iterable[str | None] = [None] if namespaces is None else namespaces
        found: list[Workload] = []
        missed: list[Unlisted] = []
        for kind in KINDS:
            for scope in scopes:
                call, kwargs = self._lister(kind, scope)
                target = kube.Target("list", kind.plural, namespace=scope)
                listed = await self._list(target, call, **kwargs)
                if isinstance(listed, Failed):
                    missed.append(Unlisted(kind, scope, listed))
                    continue
                for obj in listed or ():
                    found.append(Workload(kind, obj))
        return tuple(found), tuple(missed)

    async def secrets(
        self, wanted: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], SecretData | Failed | None]:
        """Each (namespace, name) Secret, read concurrently."""
        keys = sorted(set(wanted))
        got = await asyncio.gather(*(self.get_secret(ns, name) for ns, name in keys))
        return dict(zip(keys, got, strict=True))


def _failed(target: kube.Target, exc: kube.KubeError) -> Failed:
    return Failed(target.describe(), str(exc), isinstance(exc, kube.Forbidden))


async def _none() -> None:
    return None


def _namespace(obj: Json, *, requested: bool) -> NamespaceInfo:
    meta = obj.get("metadata") or {}
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    return NamespaceInfo(str(meta.get("name") or ""), labels, requested)


async def read_cluster(
    cluster: Cluster,
    loc: Locations,
    requested: Sequence[str],
    *,
    read_config_map: bool,
) -> tuple[
    InstallState, tuple[NamespaceInfo, ...] | Failed, tuple[Workload, ...], tuple[Unlisted, ...]
]:
    """Everything but the Secrets (which depend on the profiles, read from the ConfigMap)."""
    install = await cluster.install(loc, read_config_map)
    namespaces = await cluster.namespaces(requested)
    workloads, unlisted = await cluster.workloads(list(requested) or None)
    return install, namespaces, workloads, unlisted


def state_of(
    loc: Locations,
    install: InstallState,
    namespaces: tuple[NamespaceInfo, ...] | Failed,
    workloads: tuple[Workload, ...],
    unlisted: tuple[Unlisted, ...],
    secrets: dict[tuple[str, str], SecretData | Failed | None],
) -> ClusterState:
    """The frozen state the checks read."""
    return ClusterState(loc, install, namespaces, workloads, unlisted, secrets)
