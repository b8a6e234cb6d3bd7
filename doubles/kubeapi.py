"""A small Kubernetes API double over real HTTP, for the code that uses kubernetes-asyncio.

Why not kmock alone: kmock 0.8's ``KubernetesEmulator`` keeps no ``resourceVersion`` (a list answers
``"..."`` and objects carry none), so optimistic concurrency (409 Conflict on a stale update),
watching from a resourceVersion and "410 Gone, too old resource version" cannot be expressed; its
updates merge into the stored object where a real PUT replaces it. This double implements exactly
what our code relies on, in the apiserver's JSON: ``Status`` objects for errors (403 Forbidden,
404 NotFound, 409 AlreadyExists / Conflict, 410 Expired), list with ``metadata.resourceVersion``,
paginated lists (``limit`` and ``continue``, pages from a consistent snapshot, and a 410 Expired
for a continue token older than the last compaction, as the apiserver answers once etcd
compacted the snapshot away), chunked watch streams of ``{"type", "object"}`` lines from a
resourceVersion (``ERROR`` with a 410 Status once the history was compacted), and a request log
for asserting on what was sent.

Resources: namespaces, secrets and mutatingwebhookconfigurations; for ``vsi-webhook doctor`` also
configmaps, services, serviceaccounts, pods, endpointslices, daemonsets and the Portworx
StorageCluster custom resource, the ``serviceaccounts/<name>/token`` subresource (TokenRequest:
a JWT of `doubles.tokenreview.TokenReviewer` for that service account) and ``tokenreviews``
(answered for those JWTs, so that OpenBao's kubernetes auth can log a TokenRequest's JWT in).
Tests change the state through `KubeApi.apply` / `KubeApi.remove` (which emit watch events like
any other writer) and deny access with `KubeApi.forbid` (``forbid("create",
"serviceaccounts/token", ns)`` for TokenRequests), or allow only what `KubeApi.authorizer` says
(RBAC rules evaluated by a test). `KubeApi.only_named` answers 403, as a Role with
``resourceNames`` would, to every request on a resource in a namespace that does not name one of
the given objects: a get, update or patch by name, or a list or watch whose ``fieldSelector`` is
the one requirement ``metadata.name=<name>`` (the API server authorizes those with that name, and
a list or watch without it, or a create, with none).

Lists and watches honour a ``fieldSelector`` on ``metadata.name`` and ``metadata.namespace``
(``=``, ``==``, ``!=``); another field is a 400, as the API server answers for a field it does not
index.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from doubles.kubeapi_selectors import FieldSelector
from doubles.tokenreview import TokenReviewer

TOKEN = "vsi-test-token"  # noqa: S105 - the double's own test-only token
"""The bearer token the double expects; test-only, never a real credential."""
USER = "system:serviceaccount:vsi:vault-storage-injector"
"""The user named in Forbidden messages, as the apiserver names a service account."""

STREAMING = 0
"""`Seen.status` of a watch request (logged when it opens, before any status is final)."""

ResourceKey = tuple[str, str | None, str]
"""(plural, namespace or None, name)."""


@dataclass(frozen=True)
class Resource:
    """One served resource: where it lives in the URL space and how errors name it."""

    plural: str
    kind: str
    group: str
    version: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES = {
    r.plural: r
    for r in (
        Resource("namespaces", "Namespace", "", "v1", namespaced=False),
        Resource("secrets", "Secret", "", "v1", namespaced=True),
        Resource(
            "mutatingwebhookconfigurations",
            "MutatingWebhookConfiguration",
            "admissionregistration.k8s.io",
            "v1",
            namespaced=False,
        ),
        Resource("configmaps", "ConfigMap", "", "v1", namespaced=True),
        Resource("services", "Service", "", "v1", namespaced=True),
        Resource("serviceaccounts", "ServiceAccount", "", "v1", namespaced=True),
        Resource("pods", "Pod", "", "v1", namespaced=True),
        Resource("endpointslices", "EndpointSlice", "discovery.k8s.io", "v1", namespaced=True),
        Resource("daemonsets", "DaemonSet", "apps", "v1", namespaced=True),
        Resource(
            "storageclusters", "StorageCluster", "core.libopenstorage.org", "v1", namespaced=True
        ),
    )
}
TOKEN_SUBRESOURCE = "serviceaccounts/token"  # noqa: S105 - a resource name
"""How RBAC (and `KubeApi.forbid`) names a TokenRequest."""
TOKEN_REVIEWS = "tokenreviews"  # noqa: S105 - a resource name
"""The TokenReview resource (authentication.k8s.io/v1, create only)."""


@dataclass(frozen=True)
class Seen:
    """One request as the double saw it, with its Kubernetes verb."""

    verb: str
    """get, list, watch, create, update, patch or delete."""
    resource: str
    namespace: str | None
    name: str | None
    method: str
    path: str
    query: dict[str, str]
    status: int
    authorization: str | None


@dataclass(frozen=True)
class Event:
    rv: int
    type: str
    resource: str
    namespace: str | None
    obj: dict[str, Any]


@dataclass
class KubeApi:
    """The double's state and its aiohttp application; see the module docstring."""

    objects: dict[ResourceKey, dict[str, Any]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    rv: int = 100
    compacted_rv: int = 0
    """Watches from a resourceVersion below this get a 410 Expired ERROR event."""
    denied: set[tuple[str, str, str | None]] = field(default_factory=set)
    """(verb, plural, namespace or None for any) that answer 403."""
    hooks: list[tuple[str, str, Callable[[], None]]] = field(default_factory=list)
    failures: list[tuple[str, str, int]] = field(default_factory=list)
    """One-shot (verb, plural, HTTP status) answers, e.g. a 500 for the next list."""
    watching: dict[tuple[str, str | None, str | None], int] = field(default_factory=dict)
    """Open watch streams per (plural, namespace, the name its fieldSelector names or None); a
    closed client connection ends its stream."""
    named: dict[tuple[str, str | None], frozenset[str]] = field(default_factory=dict)
    """(plural, namespace) -> the only names a request there may name (`only_named`)."""
    snapshots: dict[int, tuple[int, list[dict[str, Any]]]] = field(default_factory=dict)
    """Paginated lists in progress: id -> (resourceVersion, the items at that version)."""
    reviewer: TokenReviewer = field(default_factory=TokenReviewer)
    """Issues the JWTs of TokenRequests and answers TokenReviews for them."""
    issued: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    """(namespace, service account, audiences) of every TokenRequest answered."""
    authorizer: Callable[[str, str, str | None, str | None], bool] | None = None
    """When set, RBAC as an allow-list: may (verb, plural, namespace, name)? Else 403."""
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    # ---------------------------------------------------------------- test-side helpers

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace ``obj`` as another writer would: new resourceVersion, an event."""
        resource = _plural_of(obj["kind"])
        meta = obj["metadata"]
        key = (resource, meta.get("namespace"), meta["name"])
        event = "MODIFIED" if key in self.objects else "ADDED"
        return self._store(key, copy.deepcopy(obj), event)

    def seed(self, objs: list[dict[str, Any]]) -> None:
        """Store ``objs`` as present from the start: no events, no copies (for large clusters)."""
        for obj in objs:
            resource = RESOURCES[_plural_of(obj["kind"])]
            meta = obj["metadata"]
            self.rv += 1
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", "2025-01-01T00:00:00Z")
            meta["resourceVersion"] = str(self.rv)
            obj["apiVersion"] = resource.api_version
            self.objects[(resource.plural, meta.get("namespace"), meta["name"])] = obj

    def remove(self, resource: str, namespace: str | None, name: str) -> None:
        """Delete an object as another writer would (emits a DELETED event)."""
        # A copy: a paginated list's snapshot may still hold the stored object.
        obj = copy.deepcopy(self.objects.pop((resource, namespace, name)))
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._emit("DELETED", resource, namespace, obj)

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        obj = self.objects.get((resource, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def forbid(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """Answer 403 to ``verb`` on ``resource`` (in ``namespace``, or everywhere when None)."""
        self.denied.add((verb, resource, namespace))

    def allow(self, verb: str, resource: str, namespace: str | None = None) -> None:
        self.denied.discard((verb, resource, namespace))

    def only_named(self, resource: str, namespace: str | None, names: frozenset[str]) -> None:
        """Answer 403 to every ``resource`` request in ``namespace`` that names none of
        ``names``, as RBAC does for a Role whose rules carry ``resourceNames``."""
        self.named[(resource, namespace)] = frozenset(names)

    def open_watches(self, resource: str, namespace: str | None = None) -> int:
        """Watch streams open on ``resource`` (in ``namespace``; everywhere when None)."""
        return sum(
            count
            for (plural, ns, _), count in self.watching.items()
            if plural == resource and (namespace is None or ns == namespace)
        )

    def before(self, verb: str, resource: str, callback: Callable[[], None]) -> None:
        """Run ``callback`` once, just before the next ``verb`` request on ``resource``."""
        self.hooks.append((verb, resource, callback))

    def fail_next(self, verb: str, resource: str, status: int = 500) -> None:
        """Answer the next ``verb`` request on ``resource`` with ``status`` (an InternalError)."""
        self.failures.append((verb, resource, status))

    def compact(self) -> None:
        """Forget the event history: every watch from an older resourceVersion gets 410 Gone."""
        self.rv += 1
        self.compacted_rv = self.rv
        self.events.clear()
        self._wake()

    def writes(self) -> list[Seen]:
        """The requests that would change state (create, update, patch, delete)."""
        return [r for r in self.requests if r.verb in {"create", "update", "patch", "delete"}]

    def count(self, verb: str, resource: str, namespace: str | None = None) -> int:
        return sum(
            1
            for r in self.requests
            if r.verb == verb
            and r.resource == resource
            and (namespace is None or r.namespace == namespace)
        )

    # ---------------------------------------------------------------- state

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _emit(self, type_: str, resource: str, namespace: str | None, obj: dict[str, Any]) -> None:
        self.events.append(Event(self.rv, type_, resource, namespace, copy.deepcopy(obj)))
        self._wake()

    def _store(self, key: ResourceKey, obj: dict[str, Any], event: str) -> dict[str, Any]:
        resource = RESOURCES[key[0]]
        self.rv += 1
        meta = obj.setdefault("metadata", {})
        previous = self.objects.get(key)
        if previous is not None:
            meta["uid"] = previous["metadata"]["uid"]
            meta["creationTimestamp"] = previous["metadata"]["creationTimestamp"]
        else:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", "2025-01-01T00:00:00Z")
        meta["resourceVersion"] = str(self.rv)
        obj["apiVersion"] = resource.api_version
        obj["kind"] = resource.kind
        self.objects[key] = obj
        self._emit(event, key[0], key[1], obj)
        return copy.deepcopy(obj)

    # ---------------------------------------------------------------- HTTP

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/v1/{rest:.*}", self._dispatch)
        app.router.add_route("*", "/apis/{group}/{version}/{rest:.*}", self._dispatch)
        return app

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.match_info["rest"].split("/") if p]
        namespace: str | None = None
        if len(parts) >= 3 and parts[0] == "namespaces":
            namespace, parts = parts[1], parts[2:]
        if parts == [TOKEN_REVIEWS] or (
            len(parts) == 3 and parts[0] == "serviceaccounts" and parts[2] == "token"
        ):
            from doubles.kubeapi_tokens import authentication

            return await authentication(self, request, namespace, parts)
        if not parts or parts[0] not in RESOURCES:
            return _status(404, "NotFound", "the server could not find the requested resource")
        resource = RESOURCES[parts[0]]
        name = parts[1] if len(parts) > 1 else None
        if name is None and namespace is not None and resource.plural == "namespaces":
            name = namespace
            namespace = None
        verb = _verb(request.method, name, _parse_bool(request.query.get("watch", "")))
        try:
            selector = FieldSelector.parse(request.query.get("fieldSelector", ""))
        except ValueError as exc:
            return _status(400, "BadRequest", str(exc))
        if verb in {"list", "watch"}:
            name = selector.single_name()  # what the API server authorizes the request with
        for hook in list(self.hooks):
            if hook[0] == verb and hook[1] == resource.plural:
                self.hooks.remove(hook)
                hook[2]()

        def seen(status: int) -> Seen:
            return Seen(
                verb=verb,
                resource=resource.plural,
                namespace=namespace,
                name=name,
                method=request.method,
                path=request.path,
                query=dict(request.query),
                status=status,
                authorization=request.headers.get("Authorization"),
            )

        if verb == "watch":  # logged when opened: a stream may never return
            self.requests.append(seen(STREAMING))
            return await self._handle(request, verb, resource, namespace, name, selector)
        response = await self._handle(request, verb, resource, namespace, name, selector)
        self.requests.append(seen(response.status))
        return response

    def _refused(self, verb: str, plural: str, namespace: str | None, name: str | None) -> bool:
        """Whether `forbid`, `only_named` or the `authorizer` refuse the request."""
        if (verb, plural, namespace) in self.denied or (verb, plural, None) in self.denied:
            return True
        allowed = self.named.get((plural, namespace))
        if allowed is not None and name not in allowed:
            return True
        return self.authorizer is not None and not self.authorizer(verb, plural, namespace, name)

    async def _handle(
        self,
        request: web.Request,
        verb: str,
        resource: Resource,
        namespace: str | None,
        name: str | None,
        selector: FieldSelector,
    ) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _status(401, "Unauthorized", "Unauthorized")
        if self._refused(verb, resource.plural, namespace, name):
            return _forbidden(verb, resource, namespace, name)
        for failure in list(self.failures):
            if failure[:2] == (verb, resource.plural):
                self.failures.remove(failure)
                return _status(failure[2], "InternalError", "an error on the server, injected")
        if verb == "watch":
            return await self._watch(request, resource, namespace, selector)
        if verb == "list":
            return self._list(request, resource, namespace, selector)
        if verb == "create":
            body = await request.json()
            key = (resource.plural, namespace, body["metadata"]["name"])
            if key in self.objects:
                return _status(
                    409,
                    "AlreadyExists",
                    f'{resource.qualified()} "{key[2]}" already exists',
                    resource,
                    key[2],
                )
            body["metadata"]["namespace"] = namespace
            if namespace is None:
                body["metadata"].pop("namespace")
            return web.json_response(self._store(key, body, "ADDED"), status=201)
        assert name is not None
        key = (resource.plural, namespace, name)
        current = self.objects.get(key)
        if current is None:
            return _status(
                404, "NotFound", f'{resource.qualified()} "{name}" not found', resource, name
            )
        if verb == "get":
            return web.json_response(copy.deepcopy(current))
        if verb == "update":
            body = await request.json()
            sent_rv = body.get("metadata", {}).get("resourceVersion")
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                return _status(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {resource.qualified()} "{name}": '
                    "the object has been modified; please apply your changes to the latest "
                    "version and try again",
                    resource,
                    name,
                )
            if namespace is not None:
                body["metadata"]["namespace"] = namespace
            return web.json_response(self._store(key, body, "MODIFIED"))
        if verb == "delete":
            self.remove(resource.plural, namespace, name)
            return _status(200, "", "", resource, name, success=True)
        return _status(405, "MethodNotAllowed", f"{request.method} is not supported here")

    def _list(
        self,
        request: web.Request,
        resource: Resource,
        namespace: str | None,
        selector: FieldSelector,
    ) -> web.Response:
        """A list, or one page of it: ``limit`` items from a snapshot, ``continue`` for the rest.

        Objects are stored whole and replaced on change, so a snapshot is a list of references;
        the page is serialized as is (orjson: 50 000 Secrets in a few hundred milliseconds).
        """
        limit = int(request.query.get("limit") or 0)
        token = request.query.get("continue")
        if token:
            found = self._resume(token)
            if found is None:
                return _status(410, "Expired", EXPIRED_CONTINUE)
            snapshot_id, offset = found
            rv, items = self.snapshots[snapshot_id]
        else:
            rv = self.rv
            chosen = [
                (ns or "", name, obj)
                for (plural, ns, name), obj in self._candidates(resource, namespace, selector)
                if plural == resource.plural
                and (namespace is None or ns == namespace)
                and selector.matches(ns, name)
            ]
            chosen.sort(key=lambda entry: entry[:2])
            items = [obj for _, _, obj in chosen]
            snapshot_id, offset = len(self.snapshots) + 1, 0
            while snapshot_id in self.snapshots:
                snapshot_id += 1
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        page = items[offset : offset + limit] if limit > 0 else items[offset:]
        end = offset + len(page)
        if end < len(items):
            self.snapshots[snapshot_id] = (rv, items)
            meta["continue"] = _token(snapshot_id, end, rv)
            meta["remainingItemCount"] = len(items) - end
        else:
            self.snapshots.pop(snapshot_id, None)
        body = {
            "apiVersion": resource.api_version,
            "kind": f"{resource.kind}List",
            "metadata": meta,
            "items": page,
        }
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    def _candidates(
        self, resource: Resource, namespace: str | None, selector: FieldSelector
    ) -> list[tuple[ResourceKey, dict[str, Any]]]:
        """The stored objects a list may return: the one named, when the selector names one in
        a namespace (as the API server reads one key then), else all of them."""
        name = selector.single_name()
        if name is None or namespace is None:
            return list(self.objects.items())
        key = (resource.plural, namespace, name)
        return [(key, self.objects[key])] if key in self.objects else []

    def _resume(self, token: str) -> tuple[int, int] | None:
        """(snapshot, offset) of a continue token; None when it is unknown or compacted away."""
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            snapshot_id, offset, rv = int(data["s"]), int(data["o"]), int(data["rv"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if rv < self.compacted_rv or snapshot_id not in self.snapshots:
            self.snapshots.pop(snapshot_id, None)
            return None
        return snapshot_id, offset

    async def _watch(
        self,
        request: web.Request,
        resource: Resource,
        namespace: str | None,
        selector: FieldSelector,
    ) -> web.StreamResponse:
        key = (resource.plural, namespace, selector.single_name())
        self.watching[key] = self.watching.get(key, 0) + 1
        try:
            return await self._stream(request, resource, namespace, selector)
        finally:
            self.watching[key] -= 1

    async def _stream(
        self,
        request: web.Request,
        resource: Resource,
        namespace: str | None,
        selector: FieldSelector,
    ) -> web.StreamResponse:
        since_text = request.query.get("resourceVersion", "")
        timeout = float(request.query.get("timeoutSeconds", "300"))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)

        def matches(ev: Event) -> bool:
            return (
                ev.resource == resource.plural
                and (namespace is None or ev.namespace == namespace)
                and selector.matches(ev.namespace, str(ev.obj["metadata"]["name"]))
            )

        async def send(payload: dict[str, Any]) -> None:
            await response.write(json.dumps(payload).encode() + b"\n")

        if since_text in {"", "0"}:
            since = self.rv
            for (plural, ns, name), obj in list(self.objects.items()):
                if (
                    plural == resource.plural
                    and (namespace is None or ns == namespace)
                    and selector.matches(ns, name)
                ):
                    await send({"type": "ADDED", "object": obj})
        else:
            since = int(since_text)
            if since < self.compacted_rv:
                await send({"type": "ERROR", "object": _expired_body(since)})
                return response
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with contextlib.suppress(ConnectionResetError):
            while True:
                if since < self.compacted_rv:
                    await send({"type": "ERROR", "object": _expired_body(since)})
                    break
                pending = [ev for ev in self.events if ev.rv > since and matches(ev)]
                for ev in pending:
                    await send({"type": ev.type, "object": ev.obj})
                if self.events:
                    since = max(since, self.events[-1].rv)
                changed = self._changed
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(changed.wait(), remaining)
                except TimeoutError:
                    break
        return response


EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter."
)
"""The apiserver's message for a continue token whose snapshot etcd compacted away."""


def _token(snapshot_id: int, offset: int, rv: int) -> str:
    raw = json.dumps({"s": snapshot_id, "o": offset, "rv": rv}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _parse_bool(text: str) -> bool:
    """Query booleans as the apiserver parses them (Go's strconv.ParseBool); clients send "True"."""
    return text in {"1", "t", "T", "true", "TRUE", "True"}


def _verb(method: str, name: str | None, watch: bool) -> str:
    if method == "GET":
        if watch:
            return "watch"
        return "get" if name else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
        method, method.lower()
    )


def _plural_of(kind: str) -> str:
    for resource in RESOURCES.values():
        if resource.kind == kind:
            return resource.plural
    raise KeyError(kind)


def _status_body(
    code: int,
    reason: str,
    message: str,
    resource: Resource | None = None,
    name: str | None = None,
    *,
    success: bool = False,
) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if resource is not None:
        details["kind"] = resource.plural
        if resource.group:
            details["group"] = resource.group
    if name:
        details["name"] = name
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if success else "Failure",
        "code": code,
    }
    if not success:
        body.update(message=message, reason=reason, details=details)
    return body


def _status(
    code: int,
    reason: str,
    message: str,
    resource: Resource | None = None,
    name: str | None = None,
    *,
    success: bool = False,
) -> web.Response:
    return web.json_response(
        _status_body(code, reason, message, resource, name, success=success), status=code
    )


def _forbidden(
    verb: str,
    resource: Resource,
    namespace: str | None,
    name: str | None,
    *,
    subresource: str = "",
) -> web.Response:
    subject = f'{resource.qualified()} "{name}"' if name else resource.qualified()
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    plural = f"{resource.plural}/{subresource}" if subresource else resource.plural
    message = (
        f'{subject} is forbidden: User "{USER}" cannot {verb} resource "{plural}" '
        f'in API group "{resource.group}"{where}'
    )
    return _status(403, "Forbidden", message, resource, name)


def _expired_body(since: int) -> dict[str, Any]:
    return _status_body(410, "Expired", f"too old resource version: {since}")


@dataclass
class RunningKubeApi:
    """A started double: its state, its URL, and a kubeconfig text that points at it."""

    api: KubeApi
    url: str
    runner: web.AppRunner

    def kubeconfig(self, *, context: str = "double") -> str:
        return kubeconfig_for(self.url, context=context)


def kubeconfig_for(url: str, *, context: str = "double") -> str:
    """A kubeconfig (JSON is valid YAML) for ``url`` with the double's token."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "double", "cluster": {"server": url}}],
            "users": [{"name": "tester", "user": {"token": TOKEN}}],
            "contexts": [{"name": context, "context": {"cluster": "double", "user": "tester"}}],
            "current-context": context,
        }
    )


@contextlib.asynccontextmanager
async def serve_kubeapi(api: KubeApi | None = None) -> AsyncIterator[RunningKubeApi]:
    """Serve a `KubeApi` on a loopback port for the duration of the block."""
    api = api or KubeApi()
    # Watches are long-lived: a client that goes away cancels its handler (so `watching` drops),
    # and a short shutdown timeout keeps teardown fast.
    runner = web.AppRunner(api.app(), shutdown_timeout=0.5, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield RunningKubeApi(api=api, url=f"http://127.0.0.1:{port}", runner=runner)
    finally:
        await runner.cleanup()
